"""`python -m bench`: load tests of passcode-bot over real HTTP, against bare Bolt baselines.

Every server (ours, bare Bolt in both modes, the Slack emulator) runs in a subprocess of its
own, so the load generator never shares an event loop with what it measures. All traffic
stays on 127.0.0.1; every loop is bounded in count and time. See README.md, "Performance".
"""

from __future__ import annotations

SIGNING_SECRET = "bench-signing-secret-5e1f0c2d9a7b"
APPROVALS = "C0APPROVALS"
APPROVER = "UHELP"  # Helpdesk Operator: sees the whole fleet in the picker, approves requests
FLEET_SEED = 7
