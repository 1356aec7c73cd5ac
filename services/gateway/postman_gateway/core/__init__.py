"""What every door of the gateway shares, and nothing that is one door: who the caller is (``auth``), the service
clients (``backends``), errors as ``{code, message}`` (``errors``), request validation and serialisation
(``validation``, ``serializers``), rate limits (``rate_limits``: the counters; ``limiting``: the checks), body limits
(``body_limits``, applied inside waitress by ``waitress_limits``), session cookies (``sessions``), the audit trail
(``audit``), export slots, caching headers and metrics (``observability``).

Nothing here imports ``api``, ``callbacks``, ``web`` or ``openapi`` (pyproject.toml's import-linter layers).
"""
