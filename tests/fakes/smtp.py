"""A real SMTP server (aiosmtpd) on a free local port that keeps every message it accepts.

It can refuse chosen recipients permanently (550) and defer others a given number of times (451), like a real MTA.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.stores import free_port


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: tuple[str, int]  # the client end of the connection it came on

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]

    @property
    def owner_notice(self) -> bool:
        """An email to a campaign's owner (finished, halted, digest), not a message of a campaign."""
        return self.parsed()["Message-ID"].startswith("<notice-")


@dataclass
class _Handler:
    refuse: dict[str, str]
    defer: dict[str, int]
    messages: list[ReceivedMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  # seconds before answering DATA: a slow server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: {self.refuse[address]}"
        with self.lock:
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "451 4.3.0 Temporary lookup failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append(ReceivedMessage(
                envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content), tuple(session.peer),
            ))
        return "250 2.0.0 Ok: queued"


@dataclass
class _PipeliningHandler(_Handler):
    """Offers PIPELINING (RFC 2920) in its EHLO reply, as postfix and most relays do; it reads commands one line at
    a time either way, so commands sent together are answered in order."""

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class FakeSmtpServer:
    """``with FakeSmtpServer(refuse={"x@y": "User unknown"}) as smtp: ... smtp.port ... smtp.messages``;
    ``pipelining=True`` offers PIPELINING."""

    def __init__(self, refuse: dict[str, str] | None = None, defer: dict[str, int] | None = None,
                 delay: float = 0.0, pipelining: bool = False) -> None:
        self.port = free_port()
        handler = _PipeliningHandler if pipelining else _Handler
        self._handler = handler(dict(refuse or {}), dict(defer or {}), delay=delay)
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def campaign_messages(self) -> list[ReceivedMessage]:
        """The messages received but the emails to campaigns' owners (they finished, halted)."""
        return [m for m in self.messages if not m.owner_notice]

    @property
    def owner_notices(self) -> list[ReceivedMessage]:
        return [m for m in self.messages if m.owner_notice]

    def slow_down(self, seconds: float) -> None:
        """From now on, wait this long before accepting each message's data."""
        self._handler.delay = seconds

    def reset(self, refuse: dict[str, str] | None = None) -> None:
        """As if just started with ``refuse`` (no deferral, no delay): no message received. For a server shared by
        a module's tests (``tests/support/module_fakes.py``)."""
        with self._handler.lock:
            self._handler.messages.clear()
            self._handler.refuse = dict(refuse or {})
            self._handler.defer = {}
        self._handler.delay = 0.0

    def accept(self, address: str) -> None:
        """From now on, accept this address (it was refused): the mailbox has been fixed."""
        with self._handler.lock:
            self._handler.refuse.pop(address, None)

    def deferrals_left(self, address: str) -> int:
        """How many more times this address will be deferred (each RCPT of it while deferred uses one)."""
        with self._handler.lock:
            return self._handler.defer.get(address, 0)

    def to(self, address: str) -> list[ReceivedMessage]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def __enter__(self) -> "FakeSmtpServer":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
