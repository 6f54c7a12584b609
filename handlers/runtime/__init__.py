"""The runtime, the only code that knows how many processes there are: ``base`` (the Runtime
interface and the choice), ``inline`` (a role's work in this process), ``inbox`` (the durable
inbox: the acking and the working side, the one channel between processes), ``process``
(`serve`'s worker child), ``worker`` (`passcode-bot worker`), ``lifecycle`` (CPU priority,
dying with the parent, the frozen heap) and ``server`` (the bot served over HTTP or Socket
Mode, until SIGTERM)."""


class RuntimeGone(RuntimeError):
    """The work cannot run: the process that runs it could not start, or has exited."""
