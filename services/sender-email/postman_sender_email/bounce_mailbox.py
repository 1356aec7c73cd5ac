"""The reader of the bounce mailbox (``BOUNCE_IMAP_URL``): with SMTP, the provider event feed Postman lacks.

Every ``BOUNCE_IMAP_POLL_SECONDS`` it reads the unseen messages over IMAP, turns each into what it says
(``bounce_reports.read_report``), publishes the events on ``email.events`` as SES's would be, applies the unsubscribe
requests, and only then deletes what it handled. So a crash or a broker outage at any point loses nothing: the
messages are still there, unseen, at the next poll, and their events are published again, which is harmless (an
event is applied once downstream, by its id). What it cannot read is flagged \\Seen and left for a person.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from postman_sender_email.bounce_reports import Report, UnsubscribeRequest, read_report
from postman_sender_email.metrics import BOUNCE_REPORTS
from postman_shared.broker import OutgoingMessage
from postman_shared.broker.topology import EMAIL_EVENTS
from postman_shared.logging import get_logger
from postman_shared.settings import Settings, SettingsError
from postman_shared.unsubscribe_links import UnsubscribeLinks

log = get_logger(component="bounce-mailbox")

FETCH_BATCH = 50  # messages fetched, published and deleted together
IMAP_TIMEOUT_SECONDS = 30.0
_DEFAULT_PORTS = {"imaps": 993, "imap": 143}

Unsubscribe = Callable[[int, str], None]


class MailboxUnavailable(RuntimeError):
    """The IMAP server could not be reached, refused the login, or failed a command: the next poll tries again."""


class EventPublisher(Protocol):
    def publish(self, messages: Sequence[OutgoingMessage]) -> None: ...


@dataclass(frozen=True)
class ImapMailbox:
    """Where the bounce mailbox is, from ``imaps://user:password@host:993/INBOX``."""

    secure: bool
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    name: str = "INBOX"

    def __str__(self) -> str:  # for logs and errors: never the credentials
        return f"{'imaps' if self.secure else 'imap'}://{self.host}:{self.port}/{self.name}"


def parse_imap_url(url: str) -> ImapMailbox:
    """The mailbox of BOUNCE_IMAP_URL (user and password percent-decoded); SettingsError when it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"BOUNCE_IMAP_URL is not a valid URL ({exc}): use imaps://user:password@host:993/INBOX") \
            from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise SettingsError("BOUNCE_IMAP_URL must look like imaps://user:password@host:993/INBOX (or imap://...:143 "
                            "without TLS)")
    if not parts.username or parts.password is None:
        raise SettingsError("BOUNCE_IMAP_URL must carry the mailbox's user and password: "
                            "imaps://user:password@host/INBOX (percent-encode '@', ':' and '/' in them)")
    name = unquote(parts.path.strip("/")) or "INBOX"
    return ImapMailbox(parts.scheme == "imaps", parts.hostname, port or _DEFAULT_PORTS[parts.scheme],
                       unquote(parts.username), unquote(parts.password), name)


@dataclass
class PollReport:
    """What one poll did, by message (``events`` counts the events published)."""

    read: int = 0
    applied: int = 0  # reports whose events were published, unsubscribe requests applied: deleted
    forged: int = 0  # not our return path, or a token that does not verify: deleted
    unreadable: int = 0  # flagged \Seen and left for a person
    retried: int = 0  # unsubscribe requests the campaign service failed: left unseen for the next poll
    events: int = 0


class BounceMailbox:
    """Reads the mailbox: ``poll_once`` once, ``run`` until stopped."""

    def __init__(self, imap_url: str, bounce_address: str, signing_key: str, publisher: EventPublisher,
                 unsubscribe: Unsubscribe | None, links: UnsubscribeLinks | None, unsubscribe_mailto: str,
                 poll_seconds: int) -> None:
        self._mailbox = parse_imap_url(imap_url)
        self._bounce_address = bounce_address
        self._signing_key = signing_key
        self._publisher = publisher
        self._unsubscribe = unsubscribe
        # Without somewhere to apply them, unsubscribe requests are not recognised: they are left for a person.
        self._links = links if unsubscribe is not None and unsubscribe_mailto else None
        self._unsubscribe_mailto = unsubscribe_mailto if self._links is not None else ""
        self._poll_seconds = poll_seconds

    def run(self, stopping: threading.Event) -> None:
        """Polls until ``stopping`` is set; a failed poll (the IMAP server or the broker down) is logged and tried
        again at the next interval."""
        log.info("reading the bounce mailbox", mailbox=str(self._mailbox), poll_seconds=self._poll_seconds)
        while not stopping.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - whatever failed, the messages are still there next time
                log.warning("bounce mailbox poll failed", mailbox=str(self._mailbox),
                            problem=f"{type(exc).__name__}: {exc}")
            stopping.wait(self._poll_seconds)

    def poll_once(self) -> PollReport:
        """Reads, publishes, applies and deletes every unseen message. Raises MailboxUnavailable when the IMAP
        server fails, PublishError when the broker does not confirm the events (nothing is deleted then)."""
        report = PollReport()
        with self._session() as imap:
            uids = _ok(imap.uid("SEARCH", "UNSEEN"), "UID SEARCH")[0].split()
            for start in range(0, len(uids), FETCH_BATCH):
                self._handle(imap, uids[start:start + FETCH_BATCH], report)
        level = log.info if report.read else log.debug
        level("bounce mailbox read", read=report.read, applied=report.applied, forged=report.forged,
              unreadable=report.unreadable, retried=report.retried, events=report.events)
        return report

    def _handle(self, imap: imaplib.IMAP4, uids: list[bytes], report: PollReport) -> None:
        fetched = _fetched(_ok(imap.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[])"), "UID FETCH"))
        reports = {uid: self._read(raw) for uid, raw in fetched.items()}
        events = [event for read in reports.values() for event in read.events]
        # Published before anything is deleted: if the broker fails, every message is read again next time.
        self._publisher.publish([OutgoingMessage(EMAIL_EVENTS, event.to_dict(), event.message_id)
                                 for event in events])
        settled: list[Report] = []
        delete: list[bytes] = []
        seen: list[bytes] = []
        for uid, read in reports.items():
            if read.outcome == "unreadable":
                seen.append(uid)
            elif read.unsubscribe is not None and not self._apply(read.unsubscribe):
                report.retried += 1
                continue
            else:
                delete.append(uid)
            settled.append(read)
        _store(imap, seen, "\\Seen")
        if delete:
            _store(imap, delete, "\\Deleted")
            _ok(imap.expunge(), "EXPUNGE")
        for read in settled:
            BOUNCE_REPORTS.labels(kind=read.kind, outcome=read.outcome).inc()
            setattr(report, read.outcome, getattr(report, read.outcome) + 1)
        report.read += len(reports)
        report.events += len(events)

    def _read(self, raw: bytes) -> Report:
        return read_report(raw, self._bounce_address, self._signing_key,
                           unsubscribe_mailto=self._unsubscribe_mailto, links=self._links)

    def _apply(self, request: UnsubscribeRequest) -> bool:
        """Whether the campaign service took the request; if not, its message stays for the next poll."""
        assert self._unsubscribe is not None
        try:
            self._unsubscribe(request.campaign_id, request.recipient)
        except Exception as exc:  # noqa: BLE001 - the campaign service is down: the request is kept, tried again
            log.warning("unsubscribe request not applied", campaign_id=request.campaign_id,
                        recipient_domain=request.recipient.rpartition("@")[2], problem=type(exc).__name__)
            return False
        return True

    @contextlib.contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in connection with the mailbox selected; IMAP and network failures become MailboxUnavailable."""
        mailbox = self._mailbox
        imap: imaplib.IMAP4 | None = None
        try:
            if mailbox.secure:
                imap = imaplib.IMAP4_SSL(mailbox.host, mailbox.port, ssl_context=ssl.create_default_context(),
                                         timeout=IMAP_TIMEOUT_SECONDS)
            else:
                imap = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=IMAP_TIMEOUT_SECONDS)
            _ok(imap.login(mailbox.user, mailbox.password), "LOGIN")
            _ok(imap.select(_quoted(mailbox.name)), "SELECT")
            yield imap
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(f"cannot read the bounce mailbox {mailbox}: {type(exc).__name__}: {exc}") \
                from exc
        finally:
            if imap is not None:
                with contextlib.suppress(Exception):
                    imap.logout()


def from_settings(settings: Settings, publisher: EventPublisher, unsubscribe: Unsubscribe | None) \
        -> BounceMailbox | None:
    """The reader of this deployment's bounce mailbox; None when BOUNCE_IMAP_URL is not set. ``unsubscribe``
    applies a List-Unsubscribe mailto request (None: such requests are left for a person)."""
    if not settings.bounce_imap_url:
        return None
    if not settings.bounce_address:
        raise SettingsError("BOUNCE_IMAP_URL is set but BOUNCE_ADDRESS is not: set it to the address the mailbox "
                            "receives, e.g. bounce@bounces.agency.gov.sg (the return paths are built from it)")
    local, at, domain = settings.bounce_address.rpartition("@")
    if not at or not local or not domain or "+" in local or any(c in settings.bounce_address for c in "<>, "):
        raise SettingsError("BOUNCE_ADDRESS must be a plain address like bounce@bounces.agency.gov.sg (without '+': "
                            "each message's id and signature are added after a '+')")
    links = UnsubscribeLinks.from_settings(settings) if settings.unsubscribe_mailto and unsubscribe else None
    return BounceMailbox(settings.bounce_imap_url, settings.bounce_address, settings.callback_signing_key, publisher,
                         unsubscribe, links, settings.unsubscribe_mailto, settings.bounce_imap_poll_seconds)


def _ok(response: tuple[str, Sequence[Any]], command: str) -> list[Any]:
    """The data of a successful IMAP response; raises imaplib's error for a NO."""
    status, data = response
    if status != "OK":
        raise imaplib.IMAP4.error(f"{command} answered {status}: {_text(data)}")
    return list(data)


def _fetched(data: Sequence[object]) -> dict[bytes, bytes]:
    """Each fetched message by UID. imaplib gives a message as (b'7 (UID 12 BODY[] {123}', body), and a server may
    name the UID after the body instead, in the bytes that follow it."""
    messages: dict[bytes, bytes] = {}
    pending: bytes | None = None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            uid = _uid_in(item[0])
            if uid:
                messages[uid] = item[1]
            pending = None if uid else item[1]
        elif isinstance(item, bytes) and pending is not None:
            uid = _uid_in(item)
            if uid:
                messages[uid] = pending
            pending = None
    return messages


def _uid_in(text: bytes) -> bytes | None:
    tokens = text.replace(b"(", b" ").replace(b")", b" ").split()
    for index, token in enumerate(tokens[:-1]):
        if token.upper() == b"UID" and tokens[index + 1].isdigit():
            return tokens[index + 1]
    return None


def _store(imap: imaplib.IMAP4, uids: list[bytes], flag: str) -> None:
    if uids:
        _ok(imap.uid("STORE", b",".join(uids).decode(), "+FLAGS.SILENT", f"({flag})"), "UID STORE")


def _quoted(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: Sequence[object]) -> str:
    return " ".join(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in data)[:200]
