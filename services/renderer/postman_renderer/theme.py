"""The theme every campaign email (and its test email and preview) arrives in, so that it looks like an official
email of its agency: a hidden preheader (the start of the message's text, which mail clients show beside the
subject), the government masthead line for government senders, the agency's logo when the template's ``show_logo``
is true, the body, and a footer with the agency's name, how to recognise a genuine email and the recipient's own
unsubscribe link. Table-based with inline styles only, which is what Outlook, Gmail and Apple Mail all render.

Every email also has a plain-text part made from the same HTML (``html_text``).

Cost: the theme is built once per job (``ThemedEmail``) around the parsed template: the HTML before and after the
body is fixed text then, and the text part is a text template. Per message only the values are joined in: the body
(HTML and text), the preheader taken from the body's text, and the unsubscribe link.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from postman_renderer.email_template import (
    EmailMessageTemplate,
    SlotPosition,
    escape_html_value,
    escape_url_value,
    plain_subject_value,
)
from postman_renderer.html_slots import without
from postman_renderer.html_text import html_to_text
from postman_renderer.template import Escape, Template

PREHEADER_LENGTH = 140  # characters of the body's text in the preheader, cut at a word
_PREHEADER_SCAN = 600  # characters of the text read for it: a preheader never needs the whole message
PREVIEW_UNSUBSCRIBE_URL = "#"  # previews and test emails: a stand-in, never a working link for a real recipient
_FONT = "font-family:Arial,Helvetica,sans-serif;"
# After the preheader: invisible characters, so that clients do not fill their preview with the masthead's text.
_PREHEADER_FILLER = "&#847;&zwnj;&nbsp;" * 20
_GREY = "#505a5f"
UNSUBSCRIBE_KEY = "@unsubscribe_url"  # not a word: no template key can be called so
OWN_LINK, STAND_IN_LINK, NO_LINK = "own", "stand-in", "none"  # the unsubscribe link a ThemedEmail carries


@dataclass(frozen=True)
class EmailLook:
    """What the theme shows of the sender's agency."""

    agency_name: str
    logo_uri: str = ""  # an https URL; "" shows no logo (none, or the template's show_logo is false)
    masthead: bool = False  # a government sender: the masthead line

    @classmethod
    def of(cls, agency_name: str, logo_uri: str, masthead: bool, show_logo: bool) -> "EmailLook":
        """The look of an agency for one template; a logo that is not https is never shown."""
        https = logo_uri.strip().lower().startswith("https://")
        return cls(agency_name, logo_uri.strip() if show_logo and https else "", masthead)


@dataclass(frozen=True)
class ThemedMessage:
    subject: str
    body: str  # the template's body rendered, without the theme
    html: str  # the whole email
    text: str  # its plain-text part


def _head(look: EmailLook) -> str:
    """Everything before the preheader's text."""
    name = escape_html_value(look.agency_name)
    return (
        '<!DOCTYPE html>\n'
        '<html lang="en">\n'
        '<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge">\n'
        '<meta name="x-apple-disable-message-reformatting">\n'
        '<meta name="color-scheme" content="light">\n'
        f'<title>{name}</title>\n'
        '</head>\n'
        '<body style="margin:0;padding:0;background-color:#f3f4f6;">\n'
        '<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;'
        'mso-hide:all;">'
    )


def _opening(look: EmailLook) -> str:
    """From the end of the preheader to the body."""
    name = escape_html_value(look.agency_name)
    parts = [
        f'{_PREHEADER_FILLER}</div>\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="background-color:#f3f4f6;">\n'
        '<tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" '
        'style="width:100%;max-width:600px;background-color:#ffffff;border:1px solid #dfe1e6;">\n'
    ]
    if look.masthead:
        parts.append(f'<tr><td style="padding:8px 24px;background-color:#f0f0f0;{_FONT}font-size:12px;'
                     'line-height:16px;color:#474747;">An email from a Singapore Government agency</td></tr>\n')
    if look.logo_uri:
        parts.append(f'<tr><td style="padding:24px 24px 0 24px;"><img src="{escape_html_value(look.logo_uri)}" '
                     f'alt="{name}" height="56" style="display:block;height:56px;width:auto;max-width:100%;border:0;'
                     'outline:none;text-decoration:none;"></td></tr>\n')
    parts.append(f'<tr><td style="padding:24px;{_FONT}font-size:16px;line-height:24px;color:#1a1a1a;">\n')
    return "".join(parts)


def _closing(look: EmailLook, unsubscribe: str) -> tuple[str, str]:
    """From the end of the body to the unsubscribe link's address, and from there to the end (one part, and "",
    when the address is not the recipient's own)."""
    name = escape_html_value(look.agency_name)
    footer = (
        '\n</td></tr>\n'
        f'<tr><td style="padding:16px 24px 24px 24px;border-top:1px solid #dfe1e6;{_FONT}font-size:12px;'
        f'line-height:18px;color:{_GREY};">\n'
        f'<p style="margin:0 0 8px 0;font-weight:bold;color:#1a1a1a;">{name}</p>\n'
        '<p style="margin:0 0 8px 0;">How to tell that this email is genuine: check the address it comes from, and '
        'never give your password, one-time password (OTP) or bank details in reply to an email. If you are unsure, '
        f'go to the official website of {name} yourself instead of using the links in this email.</p>\n'
    )
    end = '</td></tr>\n</table>\n</td></tr>\n</table>\n</body>\n</html>\n'
    if unsubscribe == NO_LINK:
        return footer + end, ""
    link = (f'" style="color:{_GREY};text-decoration:underline;">unsubscribe</a>.</p>\n' + end)
    footer += ('<p style="margin:0;">You received this email because you are on a recipient list of this sender. To '
               'stop receiving their emails, <a href="')
    if unsubscribe == STAND_IN_LINK:
        return footer + PREVIEW_UNSUBSCRIBE_URL + link, ""
    return footer, link


def preheader(text: str) -> str:
    """The start of the body's text, whitespace collapsed, at most PREHEADER_LENGTH characters, cut at a word."""
    words = " ".join(text[:_PREHEADER_SCAN].split())
    if len(words) <= PREHEADER_LENGTH:
        return words
    cut = words.rfind(" ", 0, PREHEADER_LENGTH + 1)
    return words[:cut if cut > 0 else PREHEADER_LENGTH]


# A text template, how each of its values is written, and the body tag each of its tags stands for.
TextTemplate = tuple[Template, tuple[Escape, ...], tuple[int, ...]]


def _keep(value: str) -> str:
    return value


def _in_parentheses(escape: Escape) -> Escape:
    """A link's address after its text: `` (address)``, or nothing when the value gives none."""
    def written(value: str) -> str:
        address = escape(value).strip()
        return f" ({address})" if address else ""
    return written


def _nothing(value: str) -> str:
    return ""


def _plain_url(value: str) -> str:
    """A value at the start of a link in the text part: kept unless its scheme is not allowed (as in the HTML)."""
    return value if escape_url_value(value) or not value else ""


class ThemedEmail:
    """A template inside the theme of one look, built once per job: renders one recipient's email at a time."""

    def __init__(self, template: EmailMessageTemplate, look: EmailLook, unsubscribe: str = OWN_LINK) -> None:
        """``unsubscribe``: OWN_LINK (each recipient's, given to ``render``), STAND_IN_LINK (previews, test emails:
        a link to nowhere) or NO_LINK (unsubscribe links are not configured)."""
        self.look = look
        self._subject = template.subject
        self._template = template
        self._body = template.body
        self._escapes = template.body_escapes
        self._own_link = unsubscribe == OWN_LINK
        self._head = _head(look)
        self._opening = _opening(look)
        self._closing, self._end = _closing(look, unsubscribe)
        self._text_head, self._text_body, self._text_tail = self._text_templates()

    def _text_templates(self) -> tuple[str, TextTemplate, TextTemplate]:
        """The text part as three templates: before the body (fixed text), the body, after it (the unsubscribe
        link). Each tag stands in the HTML as a placeholder ``n<index>``; a link whose whole address is one tag reads
        ``text (address)`` only when the value gives an address, so its placeholder becomes ``p<index>``."""
        nonce = secrets.token_hex(6)
        token = f"postmantext{nonce}{{}}{{}}x"
        start, end = f"x-{nonce}-start", f"x-{nonce}-end"
        body = self._body
        keys = [*body.slots, UNSUBSCRIBE_KEY]
        positions = self._template.slot_map.positions
        escapes = [_plain_url if p is SlotPosition.URL else _keep for p in positions] + [_keep]
        html = [self._head, self._opening, f"<{start}>", body.literals[0]]
        for index, literal in enumerate(body.literals[1:]):
            html += [token.format("n", index), literal]
        html += [f"<{end}>", self._closing]
        if self._own_link:
            html += [token.format("n", len(keys) - 1), self._end]
        placeholder = re.compile(token.format("([np])", r"(\d+)"))

        def link_address(href: str) -> str:
            whole = placeholder.fullmatch(href)
            return token.format("p", whole.group(2)) if whole else f" ({href})"

        text = html_to_text("".join(html), frozenset({start, end}),
                            lambda s: placeholder.sub(lambda m: "{{" + keys[int(m.group(2))] + "}}", s), link_address)
        head, rest = text.split(f"\x00{start}\x00", 1)
        middle, tail = rest.split(f"\x00{end}\x00", 1)

        def template_of(piece: str) -> TextTemplate:
            chunks = placeholder.split(piece)  # literal, kind, index, literal, kind, index, ..., literal
            kinds, indexes = chunks[1::3], [int(i) for i in chunks[2::3]]
            return (Template(tuple(chunks[0::3]), tuple(keys[i] for i in indexes)),
                    tuple(_in_parentheses(escapes[i]) if kind == "p" else escapes[i]
                          for kind, i in zip(kinds, indexes, strict=True)),
                    tuple(indexes))

        return head, template_of(middle), template_of(tail)

    def render(self, values: Mapping[str, object], unsubscribe_url: str | None = None) -> ThemedMessage:
        """One recipient's email; ``unsubscribe_url`` is their own link (when the theme has one)."""
        left_out = self._template.left_out(values)  # values that would make a dangerous link: in neither part
        body = self._body.render_each(values, without(self._escapes, left_out))
        template, escapes, indexes = self._text_body
        if left_out:
            escapes = tuple(_nothing if index in left_out else escape
                            for escape, index in zip(escapes, indexes, strict=True))
        body_text = template.render_each(values, escapes)
        url = unsubscribe_url or "" if self._own_link else ""
        html = "".join((self._head, escape_html_value(preheader(body_text)), self._opening, body, self._closing,
                        escape_html_value(url), self._end))
        tail, tail_escapes, _ = self._text_tail
        text = self._text_head + body_text + tail.render_each({UNSUBSCRIBE_KEY: url}, tail_escapes)
        return ThemedMessage(subject=self._subject.render(values, plain_subject_value), body=body, html=html,
                             text=text)


