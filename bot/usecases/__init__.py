"""The use cases of a passcode reset, each a few functions over the ports (bot.ports):

request -> decide (approve, deny, cancel) -> execute (the backend) -> reveal -> expire,
and status. No Slack here, and no SQL: a ``Core`` holds the ports; bot.service.ResetService
is the facade the handlers call.
"""
