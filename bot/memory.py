"""Giving freed memory back to the operating system after a big load (a full device list,
a simulated fleet). Python frees the objects, but two things kept their memory, measured at
100,000 devices on the Intune backend over the fake Graph:

- urllib's cache of split URLs (128 entries; httpx's cookie handling splits every request's
  URL) held the URL of each page read, each with its own skip token: one small object per
  page, each keeping the 1 MB block of Python's allocator it sat in (~20 MB);
- glibc's allocator keeps the heap pages the Graph pages and parsed JSON sat in (~50 MB)
  until ``malloc_trim`` asks it to return them."""

from __future__ import annotations

import contextlib
import ctypes
import sys
import urllib.parse
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        _trim = ctypes.CDLL("libc.so.6").malloc_trim  # glibc (no ldconfig run to find it)


def give_back() -> None:
    """Forget the split URLs, and return the allocator's free heap memory to the system
    (glibc; elsewhere only the first)."""
    cache_clear = getattr(urllib.parse.urlsplit, "cache_clear", None)
    if callable(cache_clear):
        cache_clear()
    if _trim is not None:
        _trim(0)
