"""Loaded by every Python process started with this folder on PYTHONPATH (bench/cluster.py's
replicas and the worker processes they start): two timing constants of the product that are
not settings, shortened for a test or benchmark run.

- ``PASSCODE_SHIM_LEASE_S``: bot/jobs.py's job lease (120 s). A SIGKILLed replica's claimed
  jobs come back to the others only when their lease runs out; 120 s would make a kill test
  take minutes.
- ``PASSCODE_SHIM_POST_RATE``: the approvals channel's pace (handlers/slack/pacing.py, 1 post/s
  per channel), as ``python -m bench --post-rate`` sets it for the end-to-end run.

Nothing else changes; unset, this file does nothing."""

import os

_lease = os.environ.get("PASSCODE_SHIM_LEASE_S")
if _lease:
    import bot.jobs

    bot.jobs.LEASE_S = float(_lease)

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
