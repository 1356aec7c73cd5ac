"""What providers call back, outside ``/v1`` and without an API key, each checking its own signature or secret:
Twilio's SMS status (``twilio``), Telegram's webhook (``telegram_webhook``) and SES's events through Amazon SNS
(``ses_events``, which checks the SNS signature with ``sns``). Each puts what it received on the broker for the
sender service that owns it.
"""
