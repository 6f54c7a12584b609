"""Loaded by every Python process started with this folder on PYTHONPATH (bench/cluster.py's
replicas and the worker processes they start): a timing constant of the product that is not
a setting, changed for a test or benchmark run. (The job lease is one: bench/cluster.py sets
JOB_LEASE_SECONDS, so that a SIGKILLed replica's jobs come back within the run.)

- ``PASSCODE_SHIM_POST_RATE``: the approvals channel's pace (handlers/slack/pacing.py, 1 post/s
  per channel), as ``python -m bench --post-rate`` sets it for the end-to-end run.

Nothing else changes; unset, this file does nothing."""

import os

_rate = os.environ.get("PASSCODE_SHIM_POST_RATE")
if _rate:
    from handlers.slack import pacing

    _init = pacing.ChannelPacer.__init__
    _code = _init.__code__
    _names = _code.co_varnames[:_code.co_argcount]
    _defaults = list(_init.__defaults__ or ())
    if "rate" in _names[len(_names) - len(_defaults):]:  # positional with a default
        _defaults[_names.index("rate") - (len(_names) - len(_defaults))] = float(_rate)
        _init.__defaults__ = tuple(_defaults)
    elif _init.__kwdefaults__ and "rate" in _init.__kwdefaults__:
        _init.__kwdefaults__["rate"] = float(_rate)
