"""API key reminders: a key's owner and its notification contacts are emailed ``API_KEY_REMINDER_DAYS`` (30, 7 and 1)
days before the key expires, and when it is revoked.

Each email is a row of ``api_key_notices``, unique per key and kind (``expiry-30``, ``expiry-7``, ``expiry-1``,
``revoked``), so it goes once however many auth replicas run and however often they restart:

1. ``schedule``: the reminder due for each live key expiring soon (``due_reminder``) is inserted ``ON CONFLICT DO
   NOTHING``: of two replicas looking at once, one inserts it, the other finds it there. A revocation inserts its
   row in the transaction that revokes the key (api_keys.revoke_for_user).
2. ``deliver``: rows not sent yet are claimed ``FOR UPDATE SKIP LOCKED``, their emails are published on
   ``email.priority`` (one per address, confirmed by the broker) and ``sent_at`` is set in the same transaction. A
   failed publish rolls the claim back: the next look sends it. A crash after the publish and before the commit
   sends it again under the same message ids, and sender-email sends one id once.

Only the reminder for the fewest days still ahead goes: a key made for 5 days gets no 30- or 7-day reminder, only
the 1-day one, and after an outage the 7-day reminder goes, not a late 30-day one. A reminder whose key was
revoked or expired before it could be sent, and anything for a disabled owner, is recorded as sent to nobody.

The emails name the key by its label and last five characters, never the key itself; logs name notices by id.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from postman_auth.api_keys import REVOKED_NOTICE
from postman_auth.models import ApiKey, ApiKeyNotice, User
from postman_shared.broker.publisher import OutgoingMessage, Publisher
from postman_shared.broker.topology import EMAIL_PRIORITY
from postman_shared.db import Database
from postman_shared.logging import get_logger
from postman_shared.messages import PriorityEmail

EXPIRY_PREFIX = "expiry-"  # expiry-30: the reminder 30 days before the key expires
SINGAPORE = timezone(timedelta(hours=8), "SGT")
BATCH = 50  # notices claimed per transaction
PUBLISH_TIMEOUT_SECONDS = 30.0

log = get_logger(component="key-reminders")


def due_reminder(created_at: datetime, expires_at: datetime | None, now: datetime,
                 days: Sequence[int]) -> int | None:
    """The reminder due for a key at ``now``: the fewest of ``days`` whose moment (``expires_at`` less that many
    days) has come, among those the key existed at (created strictly before it), while the key has not expired.
    None: no reminder is due (no expiry, expired, or no moment come yet)."""
    if expires_at is None or now >= expires_at:
        return None
    due = [d for d in days if created_at < expires_at - timedelta(days=d) <= now]
    return min(due) if due else None


def _one_line(text: str, limit: int = 100) -> str:
    return " ".join(text.split())[:limit]


def _when(moment: datetime) -> str:
    local = moment.astimezone(SINGAPORE)
    return f"{local.day} {local:%B %Y, %H:%M} (Singapore time)"


def _time_left(remaining: timedelta) -> str:
    days = round(remaining / timedelta(days=1))
    if days >= 1:
        return "1 day" if days == 1 else f"{days} days"
    hours = round(remaining / timedelta(hours=1))
    return "less than an hour" if hours < 1 else ("1 hour" if hours == 1 else f"{hours} hours")


@dataclass(frozen=True)
class KeyFacts:
    """What an email says about a key: never the key itself."""

    label: str
    last_five: str
    test: bool
    owner: str
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def name(self) -> str:
        return f"“{_one_line(self.label)}” (ending …{self.last_five}{', a test key' if self.test else ''})"


def compose(kind: str, key: KeyFacts, to: str, message_id: str, sender: str, public_url: str,
            now: datetime) -> PriorityEmail:
    """One notice about ``key`` to one address, as HTML and plain text."""
    settings_page = f"{public_url}/settings"
    why = ("You get this email because the key is yours." if to == key.owner else
           f"You get this email because {key.owner}, who owns the key, named you as one of its notification "
           "contacts.")
    if kind == REVOKED_NOTICE:
        subject = f"Postman API key “{_one_line(key.label, 60)}” was revoked"
        paragraphs = [
            f"The Postman API key {key.name} of {key.owner} was revoked on {_when(key.revoked_at or now)}.",
            "Programs that still use it are refused from now on. If they need to keep sending, create a new key "
            f"on the Settings page ({settings_page}) and put it in place of this one.",
            "If nobody you know revoked it, tell the key's owner and check the keys on the Settings page.",
        ]
    else:
        assert key.expires_at is not None  # an expiry reminder is only scheduled for a key that expires
        subject = f"Postman API key “{_one_line(key.label, 60)}” expires in {_time_left(key.expires_at - now)}"
        paragraphs = [
            f"The Postman API key {key.name} of {key.owner} expires on {_when(key.expires_at)}, in "
            f"{_time_left(key.expires_at - now)}.",
            "After that, programs that use it are refused. To keep them working, create a new key on the Settings "
            f"page ({settings_page}), put it in place of this one, then revoke this one.",
        ]
    paragraphs.append(why)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return PriorityEmail(message_id=message_id, to=to, sender=sender, subject=subject, body=body,
                         text="\n\n".join(paragraphs) + "\n")


def recipients(owner: str, contacts: Sequence[str]) -> list[str]:
    """The owner, then each contact once (a contact who is the owner is not emailed twice)."""
    seen = [owner]
    for contact in contacts:
        if contact not in seen:
            seen.append(contact)
    return seen


class KeyReminders:
    """The loop that emails key reminders and revocations; ``wake`` makes it look at once (after a revocation)."""

    def __init__(self, database: Database, publisher: Publisher, sender: str, public_url: str,
                 days: Sequence[int], interval: float) -> None:
        self._database = database
        self._publisher = publisher
        self._sender = sender
        self._public_url = public_url
        self._days = tuple(days)
        self._interval = interval
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            self.tick()
            deadline = time.monotonic() + self._interval
            # Waits on the stop in short slices, looking at the wake between them: a stopping service (and every
            # test that stops one) is not held up to a second by this loop.
            while not self._wake.is_set() and time.monotonic() < deadline:
                if stop.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
                    return

    def tick(self, now: datetime | None = None) -> int:
        """Schedules what is due and sends what is pending; returns how many emails went. Never raises: a failure
        is logged and the next look tries again."""
        try:
            self.schedule(now)
            return self.deliver(now)
        except Exception:  # noqa: BLE001 - logged; the next look tries again
            log.exception("API key reminders failed, will try again")
            return 0

    def schedule(self, now: datetime | None = None) -> int:
        """Records the reminder due for each live key expiring within the longest reminder; returns how many were
        new."""
        now = now or datetime.now(timezone.utc)
        if not self._days:
            return 0
        with self._database.unit_of_work() as session:
            keys = session.execute(
                select(ApiKey.id, ApiKey.created_at, ApiKey.expires_at).join(User, User.id == ApiKey.user_id)
                .where(ApiKey.revoked_at.is_(None), User.disabled_at.is_(None), ApiKey.expires_at > now,
                       ApiKey.expires_at <= now + timedelta(days=max(self._days)))
            ).all()
            due = [{"api_key_id": key.id, "kind": f"{EXPIRY_PREFIX}{days}"} for key in keys
                   if (days := due_reminder(key.created_at, key.expires_at, now, self._days)) is not None]
            if not due:
                return 0
            inserted = session.scalars(insert(ApiKeyNotice).values(due)
                                       .on_conflict_do_nothing(index_elements=["api_key_id", "kind"])
                                       .returning(ApiKeyNotice.id)).all()
        if inserted:
            log.info("API key reminders due", count=len(inserted))
        return len(inserted)

    def deliver(self, now: datetime | None = None) -> int:
        """Sends every notice not sent yet, in batches; returns how many emails were published."""
        total = 0
        while True:
            sent, claimed = self._deliver_batch(now or datetime.now(timezone.utc))
            total += sent
            if claimed < BATCH:
                return total

    def _deliver_batch(self, now: datetime) -> tuple[int, int]:
        with self._database.unit_of_work() as session:
            rows = session.execute(
                select(ApiKeyNotice, ApiKey, User)
                .join(ApiKey, ApiKey.id == ApiKeyNotice.api_key_id).join(User, User.id == ApiKey.user_id)
                .where(ApiKeyNotice.sent_at.is_(None)).order_by(ApiKeyNotice.id).limit(BATCH)
                .with_for_update(of=ApiKeyNotice, skip_locked=True)
            ).all()
            emails: list[PriorityEmail] = []
            for notice, key, owner in rows:
                addresses = [] if self._moot(notice, key, owner, now) else recipients(owner.email,
                                                                                       key.notification_contacts)
                facts = KeyFacts(label=key.label, last_five=key.last_five, test=key.test, owner=owner.email,
                                 expires_at=key.expires_at, revoked_at=key.revoked_at)
                emails += [compose(notice.kind, facts, to, f"key-notice-{notice.id}-{n}", self._sender,
                                   self._public_url, now) for n, to in enumerate(addresses)]
                notice.sent_at, notice.emailed = now, len(addresses)
                log.info("API key notice", notice_id=notice.id, api_key_id=key.id, kind=notice.kind,
                         emailed=len(addresses))
            if emails:
                # Inside the transaction: if the broker does not confirm, the claim is rolled back and retried.
                self._publisher.publish([OutgoingMessage(EMAIL_PRIORITY, e.to_dict(), e.message_id) for e in emails],
                                        timeout=PUBLISH_TIMEOUT_SECONDS)
        return len(emails), len(rows)

    @staticmethod
    def _moot(notice: ApiKeyNotice, key: ApiKey, owner: User, now: datetime) -> bool:
        """Nobody is emailed: the owner is disabled, or a reminder's key was revoked or expired before it went."""
        if owner.disabled_at is not None:
            return True
        if notice.kind == REVOKED_NOTICE:
            return False
        return key.revoked_at is not None or key.expires_at is None or key.expires_at <= now
