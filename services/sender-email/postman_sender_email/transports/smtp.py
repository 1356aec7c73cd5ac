"""SMTP transport: a few long-lived connections, reused across batches, each driven by its own thread.

A batch is cut into one contiguous slice per connection. Each message is one MAIL/RCPT/DATA transaction; the message
bytes from ``mime.build`` already use CRLF and never need dot-stuffing, so DATA writes them as they are instead of
letting smtplib scan them again. When the server offers PIPELINING (RFC 2920; postfix and most relays do),
MAIL, RCPT and DATA of a message with one recipient go in one write: two round trips per message instead of four.

A transactional email may have copies: one RCPT per address, the main recipient first. A refused copy is dropped
(the others still get the message); a refused main recipient refuses the message.

Credentials are sent only inside TLS: with ``SMTP_USERNAME`` set, ``SMTP_STARTTLS`` must be on (STARTTLS with the
system's certificate checks, a server that does not offer it fails the connection), else sender-email refuses to
start. That holds for a relay on this machine too: one that needs no AUTH takes mail without a username.

A campaign message's envelope sender is its VERP return path when ``BOUNCE_ADDRESS`` is set (``return_path.py``), so
the bounce or complaint that comes back names the message.

Replies: 2xx is SENT; 5xx is a permanent refusal, ERROR ``smtp_<code>`` with the server's text; 4xx and lost
connections are retried on a fresh connection a couple of times, then ERROR ``smtp_unavailable``, transient: the
delivery use case tries the message again later.
"""

from __future__ import annotations

import queue
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

from postman_sender_email import mime
from postman_sender_email.transports.base import Email, Outcome, Proceed, envelope_recipients, log_ids, may_send
from postman_shared.logging import get_logger
from postman_shared.settings import SettingsError

log = get_logger(component="smtp")


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


class _Connection:
    """One SMTP session, opened on first use and reopened after it is discarded."""

    def __init__(self, transport: "SmtpTransport") -> None:
        self._transport = transport
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.smtp is None:
            t = self._transport
            smtp = smtplib.SMTP(t.host, t.port, timeout=t.timeout)
            try:
                smtp.ehlo()
                if t.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if t.username and t.starttls:  # never AUTH in the clear (refused in __init__ as well)
                    smtp.login(t.username, t.password)
            except BaseException:
                smtp.close()
                raise
            self.smtp = smtp
        return self.smtp

    def discard(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def quit(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.discard()


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        connections: int = 4,
        timeout: float = 30.0,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        retries: int = 2,
        retry_pause: float = 0.2,
        return_path: Callable[[Email], str | None] = lambda email: None,
    ) -> None:
        if username and not starttls:
            raise SettingsError(
                "SMTP_USERNAME is set but SMTP_STARTTLS is off: Postman does not send SMTP credentials (AUTH) over "
                "a connection without TLS, where anyone on the path reads them. Set SMTP_STARTTLS=true (the server "
                "must offer STARTTLS with a valid certificate for SMTP_HOST), or leave SMTP_USERNAME and "
                "SMTP_PASSWORD empty for a relay that takes mail without AUTH.")
        self.host, self.port, self.timeout = host, port, timeout
        self.starttls, self.username, self.password = starttls, username, password
        self._retries = retries
        self._retry_pause = retry_pause
        self._return_path = return_path
        self._size = max(1, connections)
        self._idle: queue.SimpleQueue[_Connection] = queue.SimpleQueue()
        for _ in range(self._size):
            self._idle.put(_Connection(self))
        self._workers = ThreadPoolExecutor(max_workers=self._size, thread_name_prefix="smtp")

    def send_batch(self, messages: Sequence[Email], proceed: Proceed | None = None) -> list[Outcome]:
        if not messages:
            return []
        date = formatdate(usegmt=True)
        step = -(-len(messages) // self._size)  # ceiling: at most one slice per connection
        slices = [messages[i:i + step] for i in range(0, len(messages), step)]
        outcomes: list[Outcome] = []
        for result in self._workers.map(lambda part: self._send_slice(part, date, proceed), slices):
            outcomes.extend(result)
        return outcomes

    def close(self) -> None:
        self._workers.shutdown(wait=True)
        for _ in range(self._size):
            self._idle.get().quit()

    # -- one connection's share of a batch -------------------------------------------------------------------

    def _send_slice(self, messages: Sequence[Email], date: str, proceed: Proceed | None) -> list[Outcome]:
        connection = self._idle.get()
        try:
            return [self._send_one(connection, email, date) if may_send(email, proceed)
                    else Outcome.withheld(email.message_id) for email in messages]
        finally:
            self._idle.put(connection)

    def _send_one(self, connection: _Connection, email: Email, date: str) -> Outcome:
        data = mime.build(email, date)
        sender = self._return_path(email) or mime.mailbox(email.sender)[0]
        recipients = envelope_recipients(email, mime.mailbox(email.to)[0])
        problem = ""
        for attempt in range(1 + self._retries):
            if attempt:
                time.sleep(self._retry_pause * attempt)
            try:
                code, reply = self._transaction(connection.open(), sender, recipients, data)
            except UnicodeEncodeError:
                # smtplib speaks ASCII commands only; an internationalised address will never go through.
                connection.discard()
                return Outcome.error(email.message_id, "invalid_recipient",
                                     "The address has characters the SMTP connection cannot carry")
            except (smtplib.SMTPException, OSError) as exc:
                connection.discard()
                problem = _text(str(exc)) or type(exc).__name__
                log.warning("smtp connection failed, retrying on a new one", **log_ids(email),
                            attempt=attempt + 1, error=problem)
                continue
            if 200 <= code < 300:
                return Outcome.sent(email.message_id, mime.message_id(email, mime.mailbox(email.sender)[0]))
            if code >= 500:
                return Outcome.error(email.message_id, f"smtp_{code}", reply)
            # 4xx: the server asks us to come back later; a fresh connection often lands on a healthier backend.
            problem = f"{code} {reply}"
            connection.discard()
        return Outcome.unavailable(email.message_id, "smtp_unavailable", problem)

    @staticmethod
    def _transaction(smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes) -> tuple[int, str]:
        """MAIL, RCPT (each recipient), DATA; returns the reply to the message data, or the first refusal before it
        (a refused copy is left out, not a refusal)."""
        if len(recipients) == 1 and smtp.has_extn("pipelining"):
            return SmtpTransport._pipelined(smtp, sender, recipients[0], data)
        code, reply = smtp.mail(sender)
        if 200 <= code < 300:
            code, reply = smtp.rcpt(recipients[0])
            for copy in recipients[1:] if 200 <= code < 300 else ():
                copy_code, _ = smtp.rcpt(copy)
                if not 200 <= copy_code < 300:
                    log.info("smtp refused a copy of a message; sent to the others", code=copy_code)
            if 200 <= code < 300:
                smtp.putcmd("data")
                code, reply = smtp.getreply()
                if code == 354:
                    smtp.send(data + b".\r\n")
                    code, reply = smtp.getreply()
                    return code, _text(reply)
        return SmtpTransport._refused(smtp, code, reply)

    @staticmethod
    def _pipelined(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> tuple[int, str]:
        """The same transaction with PIPELINING (RFC 2920), when the server offers it: MAIL, RCPT and DATA go in one
        write and their three replies are read together, so a message costs two round trips instead of four (and
        half the system calls on both ends). After a refused MAIL or RCPT, a server that still answers DATA with 354
        gets an empty message (a lone ".") that it refuses for want of a recipient; the first refusal is returned."""
        commands = f"MAIL FROM:{smtplib.quoteaddr(sender)}\r\nRCPT TO:{smtplib.quoteaddr(recipient)}\r\nDATA\r\n"
        if commands.count("\n") != 3 or commands.count("\r") != 3:
            raise ValueError("an address contains a line break")  # never an extra command, as putcmd refuses it
        smtp.send(commands)
        replies = [smtp.getreply() for _ in range(3)]
        accepted = all(200 <= code < 300 for code, _ in replies[:2])
        data_code, data_reply = replies[2]
        if data_code == 354:
            smtp.send(data + b".\r\n" if accepted else b".\r\n")
            data_code, data_reply = smtp.getreply()
            if accepted:
                return data_code, _text(data_reply)
        code, reply = next(((c, r) for c, r in replies[:2] if not 200 <= c < 300), (data_code, data_reply))
        return SmtpTransport._refused(smtp, code, reply)

    @staticmethod
    def _refused(smtp: smtplib.SMTP, code: int, reply: bytes | str) -> tuple[int, str]:
        """A refusal before the message data was taken: its code and text, the session left clean."""
        if code < 400:  # a success reply where a refusal or 354 was due: the session is confused
            raise smtplib.SMTPResponseException(code, f"unexpected reply {code} {_text(reply)}")
        if code >= 500:
            # Leave the session clean for the next message; a failing RSET surfaces on the next transaction.
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                pass
        return code, _text(reply)
