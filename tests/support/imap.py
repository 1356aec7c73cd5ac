"""A real IMAP server for the tests: Debian's Dovecot on a free port of 127.0.0.1, one user, an empty Maildir.

Each server has its own temporary directory (configuration, password file, Maildir, runtime files, log), nothing
of the machine's own Dovecot configuration is read, and it is stopped afterwards. Without Dovecot the tests fail,
saying how to install it (``make dovecot``): a reader of a mailbox is not tested without a mailbox.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.stores import free_port

DOVECOT = Path(os.environ.get("DOVECOT_PATH", "/usr/sbin/dovecot"))
START_TIMEOUT_SECONDS = 15.0

_CONFIGURATION = """\
protocols = imap
listen = 127.0.0.1
base_dir = {directory}/run
state_dir = {directory}/state
instance_name = postman-test-{port}
default_internal_user = {internal_user}
default_login_user = {login_user}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {directory}/dovecot.log
mail_location = maildir:{directory}/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {directory}/users
}}
userdb {{
  driver = passwd-file
  args = {directory}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class ImapServer:
    directory: Path
    port: int
    user: str = "bounce"
    password: str = "p@ss/w0rd"  # '@' and '/' prove the URL's credentials are percent-decoded
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The BOUNCE_IMAP_URL of this server's INBOX."""
        return f"imap://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/INBOX"

    def start(self) -> None:
        self.process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(self.directory / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                pytest.fail(f"dovecot exited at start ({self.process.returncode}): {error}\n{self.log()}",
                            pytrace=False)
            try:  # ready once it greets: Dovecot greets when its authentication process is up
                imaplib.IMAP4(self.host, self.port, timeout=2).logout()
                return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"dovecot did not listen on port {self.port} in {START_TIMEOUT_SECONDS}s\n{self.log()}",
                    pytrace=False)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # the master stops its own children
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what this server started
            process.wait(timeout=10)

    def log(self, tail: int = 30) -> str:
        path = self.directory / "dovecot.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-tail:])

    @contextmanager
    def client(self) -> Iterator[imaplib.IMAP4]:
        """A session of the test's own, logged in, with INBOX selected."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(self.user, self.password)
            imap.select("INBOX")
            yield imap
        finally:
            imap.logout()

    def append(self, *messages: bytes) -> None:
        """Delivers messages to INBOX, unseen, as a mail server would."""
        with self.client() as imap:
            for raw in messages:
                status, data = imap.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
                assert status == "OK", data

    def flags(self) -> dict[int, set[str]]:
        """The flags of every message in INBOX, by UID (an expunged message is gone)."""
        with self.client() as imap:
            status, data = imap.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK", data
        found: dict[int, set[str]] = {}
        for item in data:
            if not isinstance(item, bytes) or b"UID " not in item:
                continue
            uid = int(item.split(b"UID ", 1)[1].split(maxsplit=1)[0].rstrip(b")"))
            found[uid] = {flag.decode() for flag in imaplib.ParseFlags(item)}
        return found


def _users() -> tuple[str, str, pwd.struct_passwd]:
    """Dovecot's internal and login users, and the owner of the mail: as root, the users Debian's package creates
    and nobody (Dovecot never gives a mailbox to root); otherwise the current user for all three."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        return me.pw_name, me.pw_name, me
    return "dovecot", "dovenull", pwd.getpwnam("nobody")


@contextmanager
def dovecot() -> Iterator[ImapServer]:
    """A running Dovecot with one user and an empty INBOX, stopped and removed afterwards."""
    if not (DOVECOT.is_file() and os.access(DOVECOT, os.X_OK)):
        pytest.fail(f"Dovecot is not installed ({DOVECOT} is missing): run `make dovecot`, or as root "
                    "`apt-get install dovecot-imapd` (set DOVECOT_PATH if it lives elsewhere)", pytrace=False)
    directory = Path(tempfile.mkdtemp(prefix="postman-dovecot-"))
    try:
        server = ImapServer(directory, free_port())
        internal_user, login_user, mail_owner = _users()
        directory.chmod(0o755)  # Dovecot's unprivileged processes reach their files inside it
        (directory / "Maildir").mkdir()
        os.chown(directory / "Maildir", mail_owner.pw_uid, mail_owner.pw_gid)
        users = directory / "users"
        users.write_text(f"{server.user}:{{PLAIN}}{server.password}:{mail_owner.pw_uid}:{mail_owner.pw_gid}::"
                         f"{directory / 'Maildir'}::\n")
        users.chmod(0o644)
        (directory / "dovecot.conf").write_text(_CONFIGURATION.format(
            directory=directory, port=server.port, internal_user=internal_user, login_user=login_user))
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
