"""Reading the development mailbox: the folder where sender-email's ``outbox`` transport writes every email as an
``.eml`` file (``postman_sender_email/transports/dev_mailbox.py``): ``<campaign_id>-<recipient_id>.eml`` for a campaign
message, ``<message_id>.eml`` for a priority email, ``otp-<uuid>.eml`` for a one-time password.

A file is named only by a name found in the folder itself, never by a path built from what a request says: a name
must look like the transport's names (no ``/``, no leading dot) and be a regular file directly in the folder, so
``..``, absolute paths and symbolic links lead nowhere.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from html import escape as escape_html
from html.parser import HTMLParser
from pathlib import Path

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.eml")
OTP_FILE_PREFIX = "otp-"  # auth's one-time password emails: otp_email.compose names them otp-<uuid>
MAX_FILE_BYTES = 30 * 1024 * 1024  # a transactional email with attachments stays far below; larger is not shown


def is_password_email(name: str) -> bool:
    return name.startswith(OTP_FILE_PREFIX)


@dataclass(frozen=True)
class Entry:
    name: str
    modified: datetime


@dataclass(frozen=True)
class Email:
    name: str
    modified: datetime
    sender: str
    to: str
    subject: str
    date: datetime
    html: str = ""
    attachments: list[str] = field(default_factory=list)
    plain: str = ""  # the text/plain part of a multipart/alternative email (a campaign message, a test email)

    @property
    def to_address(self) -> str:
        return parseaddr(self.to)[1].strip().lower()

    @property
    def text(self) -> list[str]:
        """The body as lines of plain text: the email's own text part when it has one, else what a reader of its HTML
        sees, without markup."""
        if self.plain:
            return [line.strip() for line in self.plain.splitlines() if line.strip()]
        return html_to_lines(self.html)


class DevMailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def entries(self) -> list[Entry]:
        """Every email in the folder, newest first (the transport's temporary files are left out)."""
        found: list[Entry] = []
        try:
            with os.scandir(self.folder) as scan:
                for item in scan:
                    if NAME.fullmatch(item.name) and item.is_file(follow_symlinks=False):
                        modified = datetime.fromtimestamp(item.stat(follow_symlinks=False).st_mtime, timezone.utc)
                        found.append(Entry(item.name, modified))
        except FileNotFoundError:  # nothing sent yet: the transport creates the folder with its first email
            return []
        found.sort(key=lambda entry: (entry.modified, entry.name), reverse=True)
        return found

    def _path(self, name: str) -> Path | None:
        if not NAME.fullmatch(name):
            return None
        path = self.folder / name
        try:
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        return path

    def read(self, name: str, headers_only: bool = False) -> Email | None:
        """The email of that file name, or None when the folder holds no such email."""
        path = self._path(name)
        if path is None:
            return None
        with path.open("rb") as file:
            message = BytesParser(policy=policy.default).parse(file, headersonly=headers_only)
        modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        html, attachments = ("", []) if headers_only else _body(message)  # type: ignore[arg-type]
        plain = "" if headers_only else _plain(message)  # type: ignore[arg-type]
        return Email(name=name, modified=modified, sender=str(message.get("From", "")), to=str(message.get("To", "")),
                     subject=str(message.get("Subject", "")), date=_date(message.get("Date"), modified), html=html,
                     attachments=attachments, plain=plain)

    def newest_password_email(self, address: str) -> Email | None:
        """The newest one-time password email to ``address``, and no other email."""
        wanted = address.strip().lower()
        for entry in self.entries():
            if is_password_email(entry.name):
                found = self.read(entry.name, headers_only=True)
                if found is not None and found.to_address == wanted:
                    return self.read(entry.name)
        return None


def _date(header: object, fallback: datetime) -> datetime:
    try:
        return parsedate_to_datetime(str(header)) if header else fallback
    except (TypeError, ValueError):
        return fallback


def _plain(message: EmailMessage) -> str:
    """The text part of an email that has both a text and an HTML part; "" otherwise."""
    if message.get_content_type() != "multipart/alternative":
        return ""
    part = message.get_body(preferencelist=("plain",))
    content = part.get_content() if part is not None else ""
    return content if isinstance(content, str) else ""


def _body(message: EmailMessage) -> tuple[str, list[str]]:
    part = message.get_body(preferencelist=("html", "plain"))
    body = ""
    if part is not None:
        content = part.get_content()
        body = content if isinstance(content, str) else ""
        if part.get_content_type() == "text/plain":
            body = "<pre>" + escape_html(body) + "</pre>"
    names = [attachment.get_filename() or "(no name)" for attachment in message.iter_attachments()]
    return body, names


class _TextOf(HTMLParser):
    """The text of HTML, a line per block element; scripts and styles dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote",
              "pre", "hr"}
    HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._current: list[str] = []
        self._hidden = 0

    def _break(self) -> None:
        line = " ".join("".join(self._current).split())
        if line:
            self.lines.append(line)
        self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag in self.BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._current.append(data)


def html_to_lines(html: str) -> list[str]:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    parser._break()
    return parser.lines
