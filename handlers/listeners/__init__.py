"""The listeners: each commits the work to do after the ack (a work item,
handlers/work/items.py) through the Background, the durable inbox, and only then acks, within
Slack's 3 s: an ack means the work is safe. Nothing slow happens here."""
