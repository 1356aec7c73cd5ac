"""Security headers on every gateway response, pages and API alike.

The Content-Security-Policy allows scripts and styles from this origin only: no 'unsafe-inline', so the pages
carry no inline script, no ``style=`` attribute and no inline event handler; a value a user or a recipient file
supplies can therefore never run as script even if escaping were missed somewhere. Frames are refused
(``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``); types are not sniffed; HSTS is sent when the public
URL is HTTPS.

An email's own HTML (inline styles, the agency's logo) is never put into a page: ``email_frame`` serves it as a
document of its own, shown in a sandboxed frame of this site's pages, under a policy of its own.
"""

from __future__ import annotations

from flask import Flask, Response

from postman_shared.settings import Settings

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HSTS = "max-age=31536000; includeSubDomains"
# An email shown in a frame: a unique origin (sandbox without allow-scripts / allow-same-origin), no script, no
# request anywhere but for inline styles and images; it may be framed by this site's pages only.
EMAIL_FRAME_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; "
                   "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def email_frame(html: str, status: int = 200) -> Response:
    """An email's HTML as the document of a sandboxed frame (``<iframe sandbox src=...>``) of this site's pages."""
    response = Response(html, status=status, mimetype="text/html")
    # Set before install()'s defaults (which it does not overwrite): this document may sit in this site's frame.
    response.headers["Content-Security-Policy"] = EMAIL_FRAME_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


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
