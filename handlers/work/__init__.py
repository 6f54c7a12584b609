"""The work after the ack: typed work items (``items``) and what each does (``worker``):
identity, the core's use cases, the answers to the person."""
