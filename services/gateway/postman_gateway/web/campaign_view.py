"""A campaign as the officers' pages describe it: its status in plain words, the steps left before it can be sent,
its progress while sending, and times in Singapore time.

Dates are shown like the campaign list's (``formatting.time_tag``), except the time of a scheduled send, which is
written in Singapore time because that is the time the officer typed (the review page asks for Singapore time).

The status follows the campaign list's rule (campaign service, ``campaign_list.py``): no job is a Draft, a READY job
(a send scheduled for later) is Scheduled, a latest job that is SENT or LOGGED is Sent, a STOPPED one is Stopped,
any other is Sending. The counts are final only once the latest job is LOGGED (every outcome counted) or STOPPED,
so the progress is followed until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from postman.v1 import campaign_pb2, stats_pb2

# Singapore keeps UTC+8 all year (no daylight saving), so a fixed offset is exact and needs no tz database.
SINGAPORE = timezone(timedelta(hours=8), "SGT")
CHANNEL_LABELS = {"EMAIL": "Email", "SMS": "SMS", "TELEGRAM": "Telegram"}
STATUS_TAGS = {"Draft": "tag--grey", "Scheduled": "tag--yellow", "Sending": "", "Sent": "tag--green",
               "Stopped": "tag--red"}
FINISHED_JOB_STATUSES = ("LOGGED", "STOPPED")
JOB_STATUS_WORDS = {
    "READY": "Scheduled",
    "ENQUEUED": "Waiting to start",
    "SENDING": "Sending",
    "SENT": "Recording the last results",
    "LOGGED": "Finished",
    "STOPPED": "Stopped",
}


def singapore_time(moment: datetime | None) -> str:
    """``1 December 2026, 9:30am (Singapore time)``; empty for no moment."""
    if moment is None:
        return ""
    local = moment.astimezone(SINGAPORE)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'} (Singapore time)"


def _moment(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=timezone.utc) if message.HasField(name) else None


def status_of(jobs: Any) -> str:
    latest = max(jobs, key=lambda job: job.id, default=None)
    if latest is None:
        return "Draft"
    if latest.status == "READY":
        return "Scheduled"
    if latest.status in ("SENT", "LOGGED"):
        return "Sent"
    if latest.status == "STOPPED":
        return "Stopped"
    return "Sending"


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
        return cls(campaign, status_of(campaign.jobs), latest)

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
        if self.latest_job is None or self.latest_job.status != "READY":
            return ""
        return singapore_time(_moment(self.latest_job, "scheduled_at"))

    @property
    def job_status_words(self) -> str:
        return JOB_STATUS_WORDS.get(self.latest_job.status, self.latest_job.status) if self.latest_job else ""

    @property
    def send_rate(self) -> int:
        return self.latest_job.send_rate if self.latest_job is not None else 0

    @property
    def finished(self) -> bool:
        """Nothing more will change without the officer: a draft, or a send whose every outcome is counted."""
        return self.latest_job is None or self.latest_job.status in FINISHED_JOB_STATUSES

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
        return self.status == "Draft"

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
class Progress:
    """The counts of a campaign's messages; ``valid`` is what will be attempted, ``done`` what has been."""

    unsent: int
    sent: int
    error: int
    invalid: int
    unsubscribed: int
    job_status: str
    finished: bool

    @classmethod
    def of(cls, stats: stats_pb2.CampaignStats, view: CampaignView) -> "Progress":
        return cls(stats.unsent, stats.sent, stats.error, stats.invalid, stats.unsubscribed,
                   view.latest_job.status if view.latest_job is not None else "", view.finished)

    @property
    def valid(self) -> int:
        return self.unsent + self.sent + self.error

    @property
    def done(self) -> int:
        return self.sent + self.error

    @property
    def percent(self) -> int:
        return (self.done * 100 // self.valid) if self.valid else (100 if self.finished else 0)

    @property
    def status_words(self) -> str:
        return JOB_STATUS_WORDS.get(self.job_status, self.job_status)

    def as_json(self) -> dict[str, Any]:
        return {"unsent": self.unsent, "sent": self.sent, "error": self.error, "invalid": self.invalid,
                "unsubscribed": self.unsubscribed, "valid": self.valid, "done": self.done, "percent": self.percent,
                "job_status": self.job_status, "status_words": self.status_words, "finished": self.finished}
