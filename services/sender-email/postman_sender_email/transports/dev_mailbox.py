"""The development mailbox (``EMAIL_TRANSPORT=outbox``): every message becomes an ``.eml`` file in the folder
``OUTBOX_DIR``, where the gateway's development outbox page reads it; nothing leaves the machine.

A campaign message is ``<campaign_id>-<recipient_id>.eml`` (a retry's: ``<campaign_id>-<recipient_id>.<job_id>.eml``);
a priority email (no campaign) is ``<message_id>.eml``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from email.utils import formatdate
from pathlib import Path

from postman_sender_email import mime
from postman_sender_email.transports.base import Email, Outcome, Proceed, may_send
from postman_shared.messages import RenderedEmail

# A priority email's id comes from another service: keep its file name inside the folder whatever it holds.
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def file_name(email: Email) -> str:
    if isinstance(email, RenderedEmail):
        return f"{email.campaign_id}-{email.message_id}.eml"  # a retry's id is <recipient_id>.<job_id>
    return f"{_UNSAFE_IN_FILE_NAME.sub('_', email.message_id)}.eml"


class DevMailboxTransport:
    """Writes each message as a file; its transport name stays ``outbox`` (the setting's value, metrics labels)."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def send_batch(self, messages: Sequence[Email], proceed: Proceed | None = None) -> list[Outcome]:
        self._folder.mkdir(parents=True, exist_ok=True)
        date = formatdate(usegmt=True)
        outcomes = []
        for email in messages:
            if not may_send(email, proceed):
                outcomes.append(Outcome.withheld(email.message_id))
                continue
            name = file_name(email)
            # A temporary name, then a rename: a reader never sees half a file, and two processes writing the same
            # redelivered message do not interleave.
            temporary = self._folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            temporary.write_bytes(mime.build(email, date))
            os.replace(temporary, self._folder / name)
            outcomes.append(Outcome.sent(email.message_id, name))
        return outcomes

    def close(self) -> None:
        pass
