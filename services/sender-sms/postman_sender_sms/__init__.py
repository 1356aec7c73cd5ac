"""sender-sms: sends rendered SMS through the user's own Twilio account."""
