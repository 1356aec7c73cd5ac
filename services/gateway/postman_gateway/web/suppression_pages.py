"""The suppression list as an officer sees it: the entries that stop their campaigns from sending to someone, newest
first, 25 a page, filtered by channel and reason; a lookup of one address or number (its global entry is shown
without the agency that caused it); lifting an entry after a confirmation; adding one of their own.

The campaign process's SuppressionService decides everything that matters, as for the senders: which entries an
officer may see (their own, and the global ones their own campaigns caused), which they may lift (another agency's
global entry is not found), how a recipient is normalised and whether it is valid. These pages only ask, as the
signed-in officer, and say the answer in plain words. Outcomes are said on the next page with a fixed notice, never
with text from the address bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue

from postman.v1 import suppression_pb2, suppression_pb2_grpc
from postman_gateway.core import audit
from postman_gateway.core.backends import backends
from postman_gateway.core.errors import ErrorCode
from postman_gateway.web import formatting
from postman_gateway.web.campaign.listing import page_links
from postman_gateway.web.pages import FormErrors, officer, render, signed_in_blueprint
from postman_shared.grpc import client
from postman_shared.grpc.errors import ServiceError

PER_PAGE = 25
MAX_PAGE = 10**5
MAX_RECIPIENT = 320
MAX_NOTE = 500
CHANNELS = {"EMAIL": "Email", "SMS": "SMS", "TELEGRAM": "Telegram"}
# Each reason in plain words: its name, and what it means for the officer's campaigns.
REASONS = {
    "hard_bounce": ("Bounced: the address does not exist",
                    "The mail service said the address does not exist (a permanent bounce). It is suppressed for "
                    "every agency: no government email is sent to it."),
    "complaint": ("Marked as spam",
                  "The recipient marked an email as spam. The address is suppressed for every agency, because "
                  "complaints put every agency's email at risk."),
    "unsubscribe": ("Unsubscribed",
                    "The recipient unsubscribed with the link in one of your emails. Your later email campaigns skip "
                    "them; other agencies' do not."),
    "sms_stop": ("Replied STOP",
                 "The number replied STOP to one of your SMS. Your later SMS campaigns skip it."),
    "manual": ("Added by hand",
               "You added it (or support did, for you or for every agency). The campaigns it applies to skip it."),
}
EXAMPLES = {"EMAIL": "enter an email address like name@example.com",
            "SMS": "enter a mobile number like +65 9123 4567", "TELEGRAM": "enter a mobile number like +65 9123 4567"}
NOTICES = {
    "lifted": "The entry was lifted: campaigns can send to that recipient again.",
    "added": "The entry was added: your campaigns will not send to that recipient.",
    "already": "That recipient was already on your suppression list: the entry there is kept.",
}

NOT_LIFTABLE = ("There is no entry with that number on your suppression list that you can lift. It may have been "
                "lifted already.")

blueprint = signed_in_blueprint("suppression", __name__, url_prefix="/suppressions")
formatting.install(blueprint)


def _stub() -> suppression_pb2_grpc.SuppressionServiceStub:
    stub = backends().suppression
    assert stub is not None  # always built from the settings (None only in tests of other parts)
    return stub


def _user_id() -> int:
    reader = officer()
    assert reader is not None  # require_officer
    return reader.user_id


@dataclass(frozen=True)
class Entry:
    """One entry as the page shows it."""

    entry: suppression_pb2.Suppression

    @property
    def id(self) -> int:
        return self.entry.id

    @property
    def recipient(self) -> str:
        return self.entry.recipient

    @property
    def channel(self) -> str:
        return CHANNELS.get(self.entry.channel, self.entry.channel)

    @property
    def reason(self) -> str:
        return REASONS.get(self.entry.reason, (self.entry.reason, ""))[0]

    @property
    def is_global(self) -> bool:
        return self.entry.user_id == 0

    @property
    def scope(self) -> str:
        return "Every agency" if self.is_global else "Your campaigns"

    @property
    def detail(self) -> str:
        return self.entry.detail

    @property
    def source_campaign_id(self) -> int:
        return self.entry.source_campaign_id

    @property
    def source_hidden(self) -> bool:
        """A global entry the officer looked up, caused by another agency: where it came from is not theirs."""
        return self.is_global and not self.entry.can_lift

    @property
    def can_lift(self) -> bool:
        return self.entry.can_lift

    @property
    def created_at(self) -> datetime | None:
        return formatting.as_datetime(self.entry.created_at)

    @property
    def added(self) -> str:
        return formatting.local_time(self.created_at, label=False)

    @property
    def lift_url(self) -> str:
        # The recipient lets the confirmation page find the entry in one small query (see ``_liftable``).
        return url_for("suppression.lift", entry_id=self.id, channel=self.entry.channel, recipient=self.recipient)


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    reason: str = ""

    @classmethod
    def from_query(cls) -> "Filters":
        """A value the form would not send is read as "all" (no error page for an edited URL)."""
        channel = request.args.get("channel", "").upper()
        reason = request.args.get("reason", "")
        return cls(channel if channel in CHANNELS else "", reason if reason in REASONS else "")

    @property
    def active(self) -> bool:
        return bool(self.channel or self.reason)

    def url(self, page: int) -> str:
        query: dict[str, Any] = {key: value for key, value in (("channel", self.channel), ("reason", self.reason))
                                 if value}
        if page > 1:
            query["page"] = page
        return url_for("suppression.list_entries", **query)


def _list(channel: str = "", recipient: str = "", reason: str = "", limit: int = PER_PAGE,
          offset: int = 0) -> suppression_pb2.ListSuppressionsResponse:
    return client.call(_stub().ListSuppressions, suppression_pb2.ListSuppressionsRequest(
        user_id=_user_id(), channel=channel, recipient=recipient, reason=reason, limit=limit, offset=offset))


def _lookup(raw: str, errors: FormErrors) -> list[Entry] | None:
    """The entries of one address or number that affect the officer's campaigns; None when nothing was asked or
    it is not an address or number (the error is on the form)."""
    if not raw:
        return None
    try:
        found = _list(recipient=raw, limit=100)
    except ServiceError as exc:
        if exc.http_status != 400:
            raise
        errors.add("lookup", f"Enter an email address or a mobile number: {exc.message}")
        return None
    return [Entry(entry) for entry in found.entries]


@blueprint.get("")
def list_entries() -> ResponseReturnValue:
    filters = Filters.from_query()
    raw_page = request.args.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) <= MAX_PAGE else 1
    errors = FormErrors()
    lookup = request.args.get("lookup", "").strip()[:MAX_RECIPIENT]
    looked_up = _lookup(lookup, errors)
    result = _list(channel=filters.channel, reason=filters.reason, offset=(page - 1) * PER_PAGE)
    total = int(result.total_count)
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:  # past the end (entries were lifted, or an edited URL): the last page
        return redirect(filters.url(pages))
    return render("suppression/list.html", 400 if errors else 200, title="Suppression list", errors=errors,
                  entries=[Entry(entry) for entry in result.entries], total=total, page=page, pages=pages,
                  links=page_links(page, pages), filters=filters, channels=CHANNELS, reasons=REASONS,
                  lookup=lookup, looked_up=looked_up, first_shown=(page - 1) * PER_PAGE + 1,
                  last_shown=min(total, page * PER_PAGE), notice=NOTICES.get(request.args.get("done", "")))


def _liftable(entry_id: int, channel: str, recipient: str) -> Entry:
    """The entry the officer may lift, found among the entries of its recipient (a handful, whatever the size of
    the list); another agency's entry, or one that is gone, is the not-found page."""
    if channel in CHANNELS and recipient:
        try:
            for entry in _list(channel=channel, recipient=recipient[:MAX_RECIPIENT], limit=100).entries:
                if entry.id == entry_id and entry.can_lift:
                    return Entry(entry)
        except ServiceError as exc:
            if exc.http_status != 400:
                raise
    abort(404, description=NOT_LIFTABLE)


@blueprint.route("/<int:entry_id>/lift", methods=["GET", "POST"])
def lift(entry_id: int) -> ResponseReturnValue:
    if request.method == "POST":
        # The service decides: an entry the officer may not lift is not found.
        try:
            lifted = client.call(_stub().LiftSuppression, suppression_pb2.LiftSuppressionRequest(
                id=entry_id, user_id=_user_id()))
        except ServiceError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            abort(404, description=NOT_LIFTABLE)
        audit.record("suppression.lifted", "suppression", lifted.id, {
            "channel": lifted.channel, "recipient": lifted.recipient, "reason": lifted.reason,
            "scope": "global" if lifted.user_id == 0 else "own",
            "source_campaign_id": lifted.source_campaign_id or None})
        return redirect(url_for("suppression.list_entries", done="lifted"), code=303)
    entry = _liftable(entry_id, request.args.get("channel", "").upper(), request.args.get("recipient", ""))
    return render("suppression/lift.html", title="Lift this entry?", entry=entry,
                  meaning=REASONS.get(entry.entry.reason, ("", ""))[1])


@blueprint.route("/new", methods=["GET", "POST"])
def add() -> ResponseReturnValue:
    errors = FormErrors()
    channel = request.form.get("channel", "")
    recipient = request.form.get("recipient", "").strip()[:MAX_RECIPIENT]
    note = " ".join(request.form.get("note", "").split())
    if request.method == "POST":
        if channel not in CHANNELS:
            errors.add("channel-email", "Choose the channel: email, SMS or Telegram")
        if not recipient:
            errors.add("recipient", "Enter the email address or mobile number to suppress")
        if len(note) > MAX_NOTE:
            errors.add("note", f"Write the note in at most {MAX_NOTE} characters")
        if not errors:
            try:
                added = client.call(_stub().AddSuppressions, suppression_pb2.AddSuppressionsRequest(
                    entries=[suppression_pb2.Suppression(channel=channel, recipient=recipient, user_id=_user_id(),
                                                         reason="manual", detail=note, created_by="officer")]))
            except ServiceError as exc:
                if exc.http_status != 400:
                    raise
                if exc.code == ErrorCode.INVALID_RECIPIENT:
                    errors.add("recipient", f"{exc.message}: {EXAMPLES[channel]}")
                else:
                    errors.add("channel-email", exc.message)
            else:
                if not added.added:
                    return redirect(url_for("suppression.list_entries", done="already"), code=303)
                _record_added(channel, recipient, note)
                return redirect(url_for("suppression.list_entries", done="added"), code=303)
    return render("suppression/new.html", 400 if errors else 200, title="Add to your suppression list",
                  errors=errors, channel=channel, recipient=recipient, note=note, max_note=MAX_NOTE)


def _record_added(channel: str, recipient: str, note: str) -> None:
    """The audit trail names the new entry (the service stored the recipient normalised: ask for it)."""
    found = [entry for entry in _list(channel=channel, recipient=recipient, limit=100).entries
             if entry.user_id == _user_id()]
    audit.record("suppression.added", "suppression", found[0].id if found else "", {
        "channel": channel, "recipient": found[0].recipient if found else recipient, "reason": "manual",
        "scope": "own", "note": note or None})
