"""Security headers on every gateway response, pages and API alike.

The Content-Security-Policy allows scripts and styles from this origin only: no 'unsafe-inline', so the pages
carry no inline script, no ``style=`` attribute and no inline event handler; a value a user or a recipient file
supplies can therefore never run as script even if escaping were missed somewhere. Frames are refused
(``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``); types are not sniffed; HSTS is sent when the public
URL is HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response

from postman_shared.settings import Settings

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def install(app: Flask, settings: Settings) -> None:
    https = settings.public_url.startswith("https://")

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
