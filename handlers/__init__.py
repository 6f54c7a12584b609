"""The Slack surface: listeners and Block Kit. Calls bot/; bot/ never imports it."""
