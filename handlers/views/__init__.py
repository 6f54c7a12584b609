"""What people see: Block Kit builders (blocks, cards, dms) and the words (words, i18n and the
gettext catalogs in locale/). Nothing here talks to Slack or the core; it turns values into
blocks and text."""
