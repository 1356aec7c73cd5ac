"""What a page gives the rich-text editor (``static/js/rich-text-editor.js``) of an email message: the HTML the
renderer's sanitiser keeps, so the editor produces nothing the save would change, and the keys the officer may
insert; and the page's policy, which lets the editor show images from https addresses. Two pages have the editor:
the email campaign's template step and a saved email template's edit page (``web/saved_template_pages.py``).

The allowlist is read from ``postman_shared.email_html``, the sanitiser's own rules, so the two cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from flask import Response

from postman_gateway.web.campaign.view import CampaignView
from postman_gateway.web.security import CSP
from postman_shared.email_html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, LINK_REL, TARGET_VALUES, URL_SCHEMES

# The page's policy with the images of an email shown as written: an officer adds an image by its https address,
# and the editor shows it (the email's preview frame already loads https images, under EMAIL_FRAME_CSP); an http
# image, which the sanitiser also keeps, is shown too rather than reported as a violation (on an https page the
# browser upgrades or refuses it as mixed content). Scripts, styles and everything else stay as strict as on every
# page; Referrer-Policy same-origin sends the image's server no referrer.
EDITOR_CSP = CSP.replace("img-src 'self' data:;", "img-src 'self' data: https: http:;")
assert EDITOR_CSP != CSP, "security.CSP no longer has the img-src the editor widens"


def allowed_html() -> str:
    """The sanitiser's allowlist as the editor's JSON (``data-allowed-html``)."""
    return json.dumps({
        "tags": sorted(ALLOWED_TAGS),
        "attributes": {tag: sorted(names) for tag, names in sorted(ALLOWED_ATTRIBUTES.items())},
        "attribute_values": {tag: {name: sorted(values) for name, values in sorted(by_name.items())}
                             for tag, by_name in sorted(TARGET_VALUES.items())},
        "url_schemes": sorted(URL_SCHEMES),
        "link_rel": LINK_REL,
    }, separators=(",", ":"))


def with_editor_policy(page: Response) -> Response:
    """``page`` (the response of a page that has the editor) under ``EDITOR_CSP`` instead of every page's policy."""
    page.headers["Content-Security-Policy"] = EDITOR_CSP
    return page


def keys(saved: Iterable[str]) -> str:
    """The keys the "Insert a field" list offers (``data-keys``): ``recipient``, then the message's keys as saved
    (the script adds the ones typed since)."""
    return json.dumps(["recipient", *[key for key in saved if key != "recipient"]])


def insertable_keys(view: CampaignView) -> str:
    """The template step's keys (``data-keys``): as ``keys``, and the password-protected email's link. The recipient
    file is uploaded after this step, so its columns are not known here."""
    offered = list(view.params)
    if view.campaign.protect:
        offered.append("protectedlink")
    return keys(dict.fromkeys(offered))
