"""Development transport: every message becomes an ``.eml`` file in the outbox folder."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from email.utils import formatdate
from pathlib import Path

from postman_sender_email import mime
from postman_sender_email.transports.base import Outcome
from postman_shared.messages import RenderedEmail


class OutboxTransport:
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def send_batch(self, messages: Sequence[RenderedEmail]) -> list[Outcome]:
        self._folder.mkdir(parents=True, exist_ok=True)
        date = formatdate(usegmt=True)
        outcomes = []
        for email in messages:
            name = f"{email.campaign_id}-{email.recipient_id}.eml"
            # A temporary name, then a rename: a reader never sees half a file, and two processes writing the same
            # redelivered message do not interleave.
            temporary = self._folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            temporary.write_bytes(mime.build(email, date))
            os.replace(temporary, self._folder / name)
            outcomes.append(Outcome.sent(email.recipient_id, name))
        return outcomes

    def close(self) -> None:
        pass
