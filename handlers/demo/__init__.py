"""`passcode-bot demo` and what it runs on: the demo itself (run.py), a local Slack Web API
emulator (slack_emulator.py: the server, Socket Mode, scripted faults; slack_model.py: the
Slack it keeps and its methods; render.py: Block Kit as a transcript line) and a driver that
plays Slack's side with signed requests (driver.py). The tests and the benchmark use the
emulator and the driver too."""
