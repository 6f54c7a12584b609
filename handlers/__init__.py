"""The Slack surface, in the order a request travels: slack/ (the door) -> listeners/ (ack) ->
runtime/ (where the work runs) -> work/ (the work after the ack) -> bot/ (the core); the
views (blocks, i18n, notifier, locale/) and the composition root (bootstrap). Calls bot/;
bot/ never imports it."""
