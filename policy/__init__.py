"""Pure rules: the support matrix and the approval rules. No Slack, no I/O."""
