"""The runtime, the only code that knows how many processes there are: ``base`` (the Runtime
interface and the choice), ``inline`` (the work on this event loop), ``process`` and
``worker`` (the front's and the worker's side of a worker process), ``link`` (their protocol),
``lifecycle`` (CPU priority, dying with the front, the frozen heap) and ``server`` (the bot
served over HTTP or Socket Mode, until SIGTERM)."""


class RuntimeGone(RuntimeError):
    """The work cannot run: the process that runs it could not start, or has exited."""
