"""The bytes of one email, built directly.

This is the hot path of the whole pipeline: ``email.message.EmailMessage`` with a policy costs far more CPU than the
transport itself, so the message is assembled from a handful of byte strings. The result is a ``text/html;
charset=utf-8`` message with a base64 body or, when the email has a plain-text part (a campaign message, a test
email), ``multipart/alternative`` with the text first and the HTML second (clients show the last part they can);
CRLF line endings and no line that starts with a dot (base64 has no dots, header continuation lines start with a
space, boundaries with ``--``), so it can go to an SMTP DATA command as it is.

Header injection is impossible by construction: every CR and LF in a header value is replaced by a space before the
value is written.

A campaign message carries its recipient's unsubscribe link in ``List-Unsubscribe`` (the HTTPS link, and a mailto
when one is configured) with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), so mail clients show
an unsubscribe button that needs no page; a transactional or priority email carries none.

A transactional email may also have a Cc header (its Bcc addresses never appear in a header: they are envelope
recipients only), an ``X-Postman-Classification`` header, and attachments, which make it ``multipart/mixed``: the HTML
part first, then one base64 part per file, named with RFC 2231 parameters when the name is not plain ASCII.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import secrets
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from urllib.parse import quote

from postman_sender_email.transactional_mail import Attachment, TransactionalMail
from postman_shared.messages import PriorityEmail, RenderedEmail

_LINE_BREAKS = re.compile(r"[\r\n]+")
# A Message-ID left part keeps to characters that need no quoting (RFC 5322 dot-atom text, minus a few).
_UNSAFE_IN_MESSAGE_ID = re.compile(r"[^A-Za-z0-9._+-]")
# RFC 5322 allows 998 characters on a line; long plain subjects are folded by Header like non-ASCII ones.
_LONG_HEADER = 900
# A file name that can be written as a plain quoted parameter; anything else is RFC 2231 encoded.
_PLAIN_FILE_NAME = re.compile(r'[A-Za-z0-9 !#$%&\'()*+,\-.:;<=>?@\[\]^_`{|}~]{1,150}')
_PARAMETER_PIECE = 60  # characters of a percent-encoded name per RFC 2231 continuation line
_BASE64_LINE = 76  # characters of base64 per line (RFC 2045)
# A boundary only has to differ from every line of the parts, which base64 and "=_" guarantee; it is unique per
# message all the same (a random prefix per process, then a counter), without a system call for random bytes each.
_BOUNDARY_PREFIX = f"=_postman_{secrets.token_hex(8)}"
_BOUNDARY_COUNTER = itertools.count()


def one_line(value: str) -> str:
    """A header value with every CR/LF sequence replaced by a space, so it cannot start a new header."""
    return _LINE_BREAKS.sub(" ", value) if ("\r" in value or "\n" in value) else value


def has_line_break(value: str | None) -> bool:
    return value is not None and ("\r" in value or "\n" in value)


@lru_cache(maxsize=1024)
def mailbox(value: str) -> tuple[str, bytes]:
    """``"Name <addr>"`` or ``"addr"`` -> (the bare address, the header form with a non-ASCII name RFC 2047 encoded).

    Cached: a campaign has one sender and one reply-to for all its messages.
    """
    name, address = parseaddr(one_line(value))
    if not address:
        address = one_line(value).strip()
    if not name:
        return address, address.encode("utf-8")
    try:
        header = formataddr((name, address), charset="utf-8")
    except UnicodeError:  # an internationalised address: formataddr accepts only ASCII ones
        header = f"{Header(name, 'utf-8').encode()} <{address}>"
    return address, header.encode("utf-8")


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "postman"


@lru_cache(maxsize=1024)
def encode_subject(subject: str) -> bytes:
    """The Subject value: as is when plain short ASCII, else RFC 2047 encoded words (folded over lines)."""
    subject = one_line(subject)
    if subject.isascii() and len(subject) < _LONG_HEADER and "=?" not in subject:
        return subject.encode("ascii")
    return Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n").encode("ascii")


def encode_body(html: str) -> bytes:
    """UTF-8, base64 in 76-character lines ending with CRLF. Encoded in one call and then cut, which is faster than
    ``base64.encodebytes`` (one call per 57 bytes) for the few kilobytes of a themed email."""
    encoded = binascii.b2a_base64(html.encode("utf-8"), newline=False)
    if not encoded:
        return b""
    return b"\r\n".join([encoded[i:i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE)]) + b"\r\n"


def message_id(email: RenderedEmail | PriorityEmail | TransactionalMail, sender_address: str) -> str:
    """The Message-ID header: the recipient and campaign of a campaign message, the queue id of a priority one."""
    if isinstance(email, RenderedEmail):
        seed = f"{email.recipient_id}.{email.campaign_id}" + (f".{email.job_id}" if email.retry else "")
    else:
        seed = _UNSAFE_IN_MESSAGE_ID.sub("_", email.message_id)
    return f"<{seed}@{domain_of(sender_address)}>"


def build(email: RenderedEmail | PriorityEmail | TransactionalMail, date: str | None = None) -> bytes:
    """The complete message. ``date`` (an RFC 5322 date) lets a batch format the clock once."""
    sender_address, sender_header = mailbox(email.sender)
    _to_address, to_header = mailbox(email.to)
    parts = [
        b"From: ", sender_header, b"\r\n",
        b"To: ", to_header, b"\r\n",
    ]
    transactional = isinstance(email, TransactionalMail)
    if transactional and email.cc:
        # One address per line (folded): 49 copies would not fit the 998 characters of one line.
        parts += [b"Cc: ", b",\r\n ".join(mailbox(address)[1] for address in email.cc), b"\r\n"]
    if email.reply_to:
        parts += [b"Reply-To: ", mailbox(email.reply_to)[1], b"\r\n"]
    parts += [
        b"Subject: ", encode_subject(email.subject), b"\r\n",
        b"Date: ", (date or formatdate(usegmt=True)).encode("ascii"), b"\r\n",
        b"Message-ID: ", message_id(email, sender_address).encode("ascii", "replace"), b"\r\n",
        b"MIME-Version: 1.0\r\n",
    ]
    if isinstance(email, RenderedEmail) and email.unsubscribe_url:
        parts += _list_unsubscribe(email.unsubscribe_url, email.unsubscribe_mailto)
    if transactional and email.classification:
        parts += [b"X-Postman-Classification: ", one_line(email.classification).encode("ascii", "replace"), b"\r\n"]
    if transactional and email.attachments:
        parts += _multipart(email.body, email.attachments)
        return b"".join(parts)
    text = email.text if isinstance(email, (RenderedEmail, PriorityEmail)) else None
    if text is not None:
        parts += _alternative(text, email.body)
        return b"".join(parts)
    parts += [
        b"Content-Type: text/html; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"\r\n",
        encode_body(email.body),
    ]
    return b"".join(parts)


def _list_unsubscribe(url: str, mailto: str | None) -> list[bytes]:
    """``List-Unsubscribe`` (one link a line, folded) and ``List-Unsubscribe-Post`` (RFC 2369, RFC 8058)."""
    links = [f"<{one_line(url)}>"] + ([f"<mailto:{one_line(mailto)}?subject=unsubscribe>"] if mailto else [])
    return [b"List-Unsubscribe: ", ",\r\n ".join(links).encode("ascii", "replace"), b"\r\n",
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"]


def _boundary() -> bytes:
    """A boundary of its own for each message; base64 never holds "=_", so it is never in a part."""
    return f"{_BOUNDARY_PREFIX}{next(_BOUNDARY_COUNTER):016x}".encode("ascii")


def _alternative(text: str, html: str) -> list[bytes]:
    """The Content-Type header and body of a multipart/alternative message: the text (CRLF line ends), the HTML."""
    boundary = _boundary()
    return [
        b'Content-Type: multipart/alternative; boundary="', boundary, b'"\r\n',
        b"\r\n",
        b"--", boundary, b"\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"\r\n",
        encode_body(text.replace("\r\n", "\n").replace("\n", "\r\n")),
        b"--", boundary, b"\r\n",
        b"Content-Type: text/html; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"\r\n",
        encode_body(html),
        b"--", boundary, b"--\r\n",
    ]


def _multipart(html: str, attachments: tuple[Attachment, ...]) -> list[bytes]:
    """The Content-Type header and body of a multipart/mixed message: the HTML, then each file."""
    boundary = _boundary()
    parts = [
        b'Content-Type: multipart/mixed; boundary="', boundary, b'"\r\n',
        b"\r\n",
        b"--", boundary, b"\r\n",
        b"Content-Type: text/html; charset=utf-8\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"\r\n",
        encode_body(html),
    ]
    for attachment in attachments:
        name = one_line(attachment.file_name)
        parts += [
            b"--", boundary, b"\r\n",
            b"Content-Type: ", one_line(attachment.content_type).encode("ascii", "replace"), b";",
            _parameter("name", name), b"\r\n",
            b"Content-Disposition: attachment;", _parameter("filename", name), b"\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"\r\n",
            base64.encodebytes(attachment.content).replace(b"\n", b"\r\n"),
        ]
    parts += [b"--", boundary, b"--\r\n"]
    return parts


def _parameter(key: str, value: str) -> bytes:
    """`` key="value"`` for a short plain ASCII value, else RFC 2231 continuations of the percent-encoded UTF-8
    (``key*0*=utf-8''...;`` then ``key*1*=...``), each on its own folded line."""
    if _PLAIN_FILE_NAME.fullmatch(value):
        return f'\r\n {key}="{value}"'.encode("ascii")
    encoded = quote(value.encode("utf-8"), safe="")
    pieces: list[str] = []
    while encoded:
        cut = min(_PARAMETER_PIECE, len(encoded))
        while cut < len(encoded) and "%" in encoded[max(0, cut - 2):cut]:  # never split a %XX escape
            cut -= 1
        pieces.append(encoded[:cut])
        encoded = encoded[cut:]
    lines = [f"{key}*{n}*={'utf-8' + chr(39) * 2 if n == 0 else ''}{piece}" for n, piece in enumerate(pieces)]
    return ("\r\n " + ";\r\n ".join(lines)).encode("ascii")
