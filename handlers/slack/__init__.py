"""Slack adapters: the HTTP door (``app``) and the Socket Mode guard (``socket_mode``), the Web
API client (``client``), who a Slack user is (``identity``), what listeners share
(``context``: the Background, per-person limits, answers to Slack's hosts only) and the
per-channel posting pace (``pacing``)."""
