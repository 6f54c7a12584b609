"""The listeners: each acks within Slack's 3 s and names the work to do after the ack (a work
item, handlers/work/items.py), handed to the Background; nothing slow happens here."""
