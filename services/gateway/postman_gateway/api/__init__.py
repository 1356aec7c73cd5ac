"""The public API ``/v1``, one module per resource (``campaigns``, ``email``, ``sms``, ``telegram``,
``transactional_email``, ``transactional_sms``, ``api_keys``, ``senders``, ``client_webhooks``, ``signin``,
``unsubscribe``, ``protected``, ``uploads``, ``saved_templates``), each with its blueprint registered by ``app.py``,
and the use cases more than one resource (or the pages) call: ``channel_routes`` (what every channel's campaign
routes share), ``test_emails``, ``transactional_query``, ``unsubscribing``, ``attachment_types``.
"""
