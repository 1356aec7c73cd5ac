"""A campaign as the officers' pages describe it: its status in plain words, the steps left before it can be sent,
its progress while sending, and its times in the officers' zone.

Times are written by ``formatting.local_time`` like every page's (``1 December 2026, 9:30am (Singapore time)``): the
display zone, ``DISPLAY_TIMEZONE``, is also the zone the review page reads the time of a send for later in.

The status follows the campaign list's rule (``postman_shared.campaign_statuses.campaign_status``): no job is a
Draft, a READY job (a send scheduled for later) is Scheduled, a latest job that is SENT or LOGGED is Sent, a STOPPED
one is Stopped, any other is Sending; a campaign halted by its bounces or complaints is Halted whatever its job. The
counts are final only once the latest job is LOGGED (every outcome counted) or STOPPED, so the progress is followed
until then.

The outcomes are stats' counters in plain words: Postman's five (not sent yet, sent, error, invalid, unsubscribed),
which add up to the recipients, each with the details it is made of (sent: delivered, read, no report yet; invalid:
the file's invalid rows, bounces, complaints, suppressed recipients), which add up to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from postman.v1 import campaign_pb2, stats_pb2
from postman_gateway.web import formatting
from postman_shared.campaign_statuses import FINISHED, CampaignStatus, JobStatus, campaign_status

CHANNEL_LABELS = {"EMAIL": "Email", "SMS": "SMS", "TELEGRAM": "Telegram"}
# The pages' own words besides the list's ``CampaignStatus``: a stopped send, and a campaign halted by its bounces or
# complaints.
STOPPED = "Stopped"
HALTED = "Halted"
STATUS_TAGS = {CampaignStatus.DRAFT: "tag--grey", CampaignStatus.SCHEDULED: "tag--yellow", CampaignStatus.SENDING: "",
               CampaignStatus.SENT: "tag--green", STOPPED: "tag--red", HALTED: "tag--red"}
# What the campaign service lets its owner stop.
SENDING_JOB_STATUSES = (JobStatus.ENQUEUED, JobStatus.SENDING, JobStatus.SENT)
JOB_STATUS_WORDS = {
    JobStatus.READY: "Scheduled",
    JobStatus.ENQUEUED: "Waiting to start",
    JobStatus.SENDING: "Sending",
    JobStatus.SENT: "Recording the last results",
    JobStatus.LOGGED: "Finished",
    JobStatus.STOPPED: "Stopped",
}


def shown_time(moment: datetime | None) -> str:
    """``1 December 2026, 9:30am (Singapore time)``; empty for no moment (the templates leave the words out)."""
    return formatting.local_time(moment) if moment is not None else ""


def _moment(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=timezone.utc) if message.HasField(name) else None


def status_of(jobs: Any, halted: bool = False) -> str:
    latest = max(jobs, key=lambda job: job.id, default=None)
    if latest is None:
        return CampaignStatus.DRAFT
    if halted:
        return HALTED
    if latest.status == JobStatus.STOPPED:
        return STOPPED
    return campaign_status(latest.status)


@dataclass(frozen=True)
class Step:
    """One step of preparing a draft: where to do it, whether it is done, and what was chosen."""

    name: str
    url: str
    done: bool
    detail: str


@dataclass(frozen=True)
class CampaignView:
    campaign: campaign_pb2.Campaign
    status: str
    latest_job: campaign_pb2.Job | None

    @classmethod
    def of(cls, campaign: campaign_pb2.Campaign) -> "CampaignView":
        latest = max(campaign.jobs, key=lambda job: job.id, default=None)
        return cls(campaign, status_of(campaign.jobs, campaign.halted), latest)

    # What it is
    @property
    def id(self) -> int:
        return self.campaign.id

    @property
    def name(self) -> str:
        return self.campaign.name

    @property
    def channel(self) -> str:
        return self.campaign.type

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.campaign.type, self.campaign.type)

    @property
    def status_tag(self) -> str:
        return STATUS_TAGS.get(self.status, "")

    @property
    def url(self) -> str:
        return f"/campaigns/{self.campaign.id}"

    @property
    def created_at(self) -> datetime | None:
        return _moment(self.campaign, "created_at")

    @property
    def sent_at(self) -> datetime | None:
        """When the latest send started (shown with ``time_tag``, like every date of the list)."""
        return _moment(self.latest_job, "sent_at") if self.latest_job is not None else None

    @property
    def scheduled_at(self) -> str:
        if self.latest_job is None or self.latest_job.status != JobStatus.READY:
            return ""
        return shown_time(_moment(self.latest_job, "scheduled_at"))

    @property
    def job_status_words(self) -> str:
        return JOB_STATUS_WORDS.get(self.latest_job.status, self.latest_job.status) if self.latest_job else ""

    @property
    def send_rate(self) -> int:
        return self.latest_job.send_rate if self.latest_job is not None else 0

    @property
    def is_sending(self) -> bool:
        """Its latest send is under way: the officer may stop it."""
        return self.latest_job is not None and self.latest_job.status in SENDING_JOB_STATUSES

    @property
    def is_stopped(self) -> bool:
        """Its latest send was stopped (by the officer, or by a halt): the officer may resume it."""
        return self.latest_job is not None and self.latest_job.status == JobStatus.STOPPED

    @property
    def stopped_at(self) -> str:
        return shown_time(_moment(self.latest_job, "status_updated_at")) if self.is_stopped else ""

    @property
    def halted(self) -> bool:
        return self.campaign.halted

    @property
    def halt_reason(self) -> str:
        return self.campaign.halt_reason or "too many of its messages bounced or were marked as spam"

    @property
    def halted_at(self) -> str:
        return shown_time(_moment(self.campaign, "halted_at"))

    @property
    def redacted(self) -> bool:
        """Its recipients and their messages' outcomes were deleted at the end of the retention period."""
        return self.campaign.redacted

    @property
    def redacted_at(self) -> str:
        return shown_time(_moment(self.campaign, "redacted_at"))

    @property
    def finished(self) -> bool:
        """Nothing more will change without the officer: a draft, or a send whose every outcome is counted."""
        return self.latest_job is None or self.latest_job.status in FINISHED

    # Its parts
    @property
    def template(self) -> campaign_pb2.EmailTemplate | campaign_pb2.SmsTemplate | None:
        field = {"EMAIL": "email_template", "SMS": "sms_template", "TELEGRAM": "telegram_template"}.get(self.channel)
        if field is None or not self.campaign.HasField(field):
            return None
        return getattr(self.campaign, field)  # type: ignore[no-any-return]

    @property
    def params(self) -> list[str]:
        return list(self.template.params) if self.template is not None else []

    @property
    def columns(self) -> list[str]:
        """The columns the recipient file needs: ``recipient``, then every key of the template."""
        return ["recipient", *[key for key in self.params if key != "recipient"]]

    @property
    def num_valid(self) -> int:
        return max(0, self.campaign.num_recipients - self.campaign.num_invalid)

    @property
    def needs_credential(self) -> bool:
        return self.channel in ("SMS", "TELEGRAM")

    @property
    def credential_words(self) -> str:
        return "Twilio account" if self.channel == "SMS" else "Telegram bot"

    @property
    def is_draft(self) -> bool:
        return self.status == CampaignStatus.DRAFT

    @property
    def steps(self) -> list[Step]:
        c = self.campaign
        template = self.template
        steps = [
            Step("Write the message", f"{self.url}/template", template is not None,
                 f"Uses {', '.join(self.params)}" if self.params else ("Written" if template is not None else "")),
            Step("Upload the recipients", f"{self.url}/recipients", c.num_recipients > 0 and not c.is_csv_processing,
                 f"{c.csv_filename}: {c.num_recipients} recipients" if c.csv_filename else ""),
        ]
        if self.needs_credential:
            steps.append(Step(f"Choose the {self.credential_words}", f"{self.url}/credentials", c.has_credential,
                              "Chosen and tested" if c.has_credential else ""))
        steps.append(Step("Review and send", f"{self.url}/review", False, ""))
        return steps

    @property
    def missing(self) -> list[str]:
        """What still stops the send, in plain words (empty when it can be sent)."""
        c = self.campaign
        problems = []
        if self.template is None:
            problems.append("Write the message first.")
        if c.is_csv_processing:
            problems.append("The recipient file is still being checked.")
        elif not c.csv_filename:
            problems.append("Upload a recipient file.")
        elif self.num_valid == 0:
            problems.append("The recipient file has no valid recipients: upload another one.")
        elif self.template is not None and not c.valid:
            problems.append(f"The recipient file needs the columns {', '.join(self.columns)}: "
                            "upload a file with these columns, or change the message.")
        if self.needs_credential and not c.has_credential:
            problems.append(f"Choose the {self.credential_words} to send with.")
        return problems


@dataclass(frozen=True)
class OutcomeRow:
    """One line of the campaign page's table of outcomes; ``detail``: a part of the line above it."""

    key: str  # the count's element is ``count-<key>``, and the progress JSON's key is ``key`` with underscores
    label: str
    meaning: str
    count: int
    detail: bool = False


@dataclass(frozen=True)
class Progress:
    """The counts of a campaign's messages (stats' ``CampaignStats``); ``valid`` is what the file asks to send (its
    valid rows), ``done`` what has been dealt with: sent, failed, or not sent because of the suppression list."""

    unsent: int
    sent: int
    error: int
    invalid: int
    unsubscribed: int
    job_status: str
    finished: bool
    delivered: int = 0
    opened: int = 0
    hard_bounced: int = 0
    soft_bounced: int = 0
    complained: int = 0
    blacklisted: int = 0
    invalid_rows: int = 0

    @classmethod
    def of(cls, stats: stats_pb2.CampaignStats, view: CampaignView) -> "Progress":
        return cls(stats.unsent, stats.sent, stats.error, stats.invalid, stats.unsubscribed,
                   view.latest_job.status if view.latest_job is not None else "", view.finished,
                   delivered=stats.delivered, opened=stats.opened, hard_bounced=stats.hard_bounced,
                   soft_bounced=stats.soft_bounced, complained=stats.complained, blacklisted=stats.blacklisted,
                   invalid_rows=stats.invalid_rows)

    @property
    def total(self) -> int:
        """Every row of the recipient file: Postman's five counters add up to it."""
        return self.unsent + self.sent + self.error + self.invalid + self.unsubscribed

    @property
    def valid(self) -> int:
        return max(0, self.total - self.invalid_rows)

    @property
    def done(self) -> int:
        return max(0, self.valid - self.unsent)

    @property
    def no_report(self) -> int:
        """Sent, and the provider has said nothing more yet (or never does)."""
        return max(0, self.sent - self.delivered - self.opened)

    @property
    def percent(self) -> int:
        return (self.done * 100 // self.valid) if self.valid else (100 if self.finished else 0)

    @property
    def status_words(self) -> str:
        return JOB_STATUS_WORDS.get(self.job_status, self.job_status)

    def rows(self, channel: str) -> list[OutcomeRow]:
        """The table of outcomes for a campaign of ``channel``: a detail that cannot happen on the channel (an
        opened SMS) is left out unless it did, so every line still adds up."""
        email = channel == "EMAIL"
        receipts = channel in ("EMAIL", "SMS") or bool(self.delivered or self.opened)
        provider = {"EMAIL": "the mail service", "SMS": "the SMS provider"}.get(channel, "Telegram")
        where = "address" if email else "number"
        lines = [
            (OutcomeRow("unsent", "Not sent yet", "Waiting to be sent, or left unsent when sending stopped",
                        self.unsent), True),
            (OutcomeRow("sent", "Sent", f"Accepted by {provider}", self.sent), True),
            (OutcomeRow("delivered", "Delivered", f"{provider[0].upper()}{provider[1:]} reported it delivered",
                        self.delivered, True), receipts),
            (OutcomeRow("opened", "Read (opened)", "Delivered and opened by the recipient", self.opened, True),
             email or self.opened > 0),
            (OutcomeRow("no_report", "No report yet", f"Sent, and {provider} has not reported more yet",
                        self.no_report, True), receipts),
            (OutcomeRow("error", "Error", "Could not be delivered", self.error), True),
            (OutcomeRow("invalid", "Invalid", "Not valid, bounced, marked as spam or suppressed: the lines below",
                        self.invalid), True),
            (OutcomeRow("invalid_rows", "Not valid in the file", f"Not a valid {where}: not sent",
                        self.invalid_rows, True), True),
            (OutcomeRow("hard_bounced", "Bounced: the address does not exist",
                        "A permanent bounce: the address is now on the suppression list of every agency",
                        self.hard_bounced, True), email or self.hard_bounced > 0),
            (OutcomeRow("soft_bounced", "Bounced: for now",
                        "A temporary bounce, like a full mailbox: the address stays usable",
                        self.soft_bounced, True), email or self.soft_bounced > 0),
            (OutcomeRow("complained", "Marked as spam",
                        "The recipient marked the email as spam: the address is now on the suppression list of "
                        "every agency", self.complained, True), email or self.complained > 0),
            (OutcomeRow("blacklisted", "Not sent: on the suppression list",
                        f"The {where} bounced, was marked as spam or was added to the suppression list before",
                        self.blacklisted, True), True),
            (OutcomeRow("unsubscribed", "Not sent: unsubscribed",
                        {"EMAIL": "The recipient had unsubscribed from your emails",
                         "SMS": "The number had replied STOP to your messages"}.get(
                            channel, "The recipient had blocked your bot"), self.unsubscribed), True),
        ]
        return [row for row, shown in lines if shown]

    def as_json(self) -> dict[str, Any]:
        counts = ("unsent", "sent", "error", "invalid", "unsubscribed", "delivered", "opened", "no_report",
                  "hard_bounced", "soft_bounced", "complained", "blacklisted", "invalid_rows", "total")
        return {**{name: getattr(self, name) for name in counts}, "valid": self.valid, "done": self.done,
                "percent": self.percent, "job_status": self.job_status, "status_words": self.status_words,
                "finished": self.finished}
