"""sender-telegram: sends rendered Telegram messages through the user's own bot, and talks with the people who
subscribe to that bot (their phone number, shared with /start)."""
