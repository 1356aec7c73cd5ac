"""RabbitMQ's management HTTP API, for the few calls `postmanctl setup` makes: policies and a queue's record.

Policies can only be set through the management API (or ``rabbitmqctl`` on the broker's own host), not over AMQP.
The standard library's ``urllib`` is enough for a handful of JSON calls, so no HTTP client is added to the runtime.

Which API: ``RABBITMQ_MANAGEMENT_URL``; empty means port 15672 on AMQP_URL's host (``make run``, the tests). The
credentials are the URL's own ``user:password``, else AMQP_URL's; the vhost is always AMQP_URL's, so the policies
land where the services' queues are. The user needs the ``policymaker`` (or ``administrator``) tag.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

TIMEOUT_SECONDS = 15.0


class ManagementApiError(RuntimeError):
    """The management API could not be used; the message says which URL and what to check."""


@dataclass(frozen=True)
class ManagementApi:
    base_url: str  # scheme://host:port[/path-prefix], without credentials
    user: str
    password: str
    vhost: str

    @classmethod
    def from_urls(cls, management_url: str, amqp_url: str) -> "ManagementApi":
        amqp = urlsplit(amqp_url)
        # pika's rule: no path is vhost "/"; otherwise the path without its leading slash, percent-decoded.
        vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
        raw = management_url.strip() or f"http://{_host_for_url(amqp.hostname or '127.0.0.1')}:15672"
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ManagementApiError(
                f"RABBITMQ_MANAGEMENT_URL must be an http:// or https:// URL of RabbitMQ's management API, "
                f"e.g. https://rabbitmq.example.internal:15671; got {management_url!r}")
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        else:
            user, password = unquote(amqp.username or "guest"), unquote(amqp.password or "guest")
        netloc = _host_for_url(parts.hostname) + (f":{parts.port}" if parts.port else "")
        return cls(f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", user, password, vhost)

    def policies(self) -> list[dict[str, Any]]:
        """The vhost's (user) policies, as the API returns them."""
        found = self._call("GET", f"/api/policies/{self._vhost()}")
        return list(found or [])

    def put_policy(self, name: str, body: dict[str, Any]) -> None:
        self._call("PUT", f"/api/policies/{self._vhost()}/{quote(name, safe='')}", body)

    def delete_policy(self, name: str) -> None:
        self._call("DELETE", f"/api/policies/{self._vhost()}/{quote(name, safe='')}")

    def queue(self, name: str) -> dict[str, Any] | None:
        """A queue's record (arguments, policy, effective_policy_definition...); None when there is no such queue."""
        return self._call("GET", f"/api/queues/{self._vhost()}/{quote(name, safe='')}", missing_ok=True)

    def consumers(self) -> list[dict[str, Any]]:
        """The vhost's consumers (queue, consumer tag, channel_details with the client's peer_host and peer_port), as
        the management API last collected them (every few seconds: a consumer just started may be missing)."""
        return list(self._call("GET", f"/api/consumers/{self._vhost()}") or [])

    def _vhost(self) -> str:
        return quote(self.vhost, safe="")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        url = self.base_url + path
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (from_urls admits http and https only)
            url, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                text = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404 and missing_ok:
                return None
            raise ManagementApiError(self._explain_status(method, url, error)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ManagementApiError(
                f"RabbitMQ's management API is not reachable at {self.base_url} ({reason}).\n"
                "  Check that the management plugin is enabled (rabbitmq-plugins enable rabbitmq_management; "
                "`make rabbitmq-plugins` on this machine),\n"
                "  that RABBITMQ_MANAGEMENT_URL names it (empty: port 15672 on AMQP_URL's host), and, in a "
                "cluster, that the network policy lets this pod reach it.") from None
        return json.loads(text) if text else None

    def _explain_status(self, method: str, url: str, error: urllib.error.HTTPError) -> str:
        detail = _reason_of(error)
        if error.code == 401:
            return (f"RabbitMQ's management API at {self.base_url} refused user {self.user!r} for {method} {url} "
                    f"(401 {detail}).\n  Check the password (RABBITMQ_MANAGEMENT_URL's user:password, else "
                    "AMQP_URL's), that the user has the policymaker (or administrator) tag "
                    f"(rabbitmqctl set_user_tags {self.user} policymaker) and permissions on vhost {self.vhost!r}.")
        if error.code == 403:
            return (f"RabbitMQ's management API at {self.base_url} does not let user {self.user!r} do {method} "
                    f"{url} (403 {detail}).\n  Setting policies needs the policymaker (or administrator) tag "
                    f"(rabbitmqctl set_user_tags {self.user} policymaker) and permissions on vhost {self.vhost!r}.")
        if error.code == 404 and "/api/policies/" in url:
            return (f"RabbitMQ's management API at {self.base_url} has no vhost {self.vhost!r} (404 {detail}): "
                    "check AMQP_URL's vhost.")
        return f"RabbitMQ's management API answered {method} {url} with {error.code} {detail}"


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _reason_of(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return str(error.reason)
    return str(body.get("reason") or body.get("error") or error.reason) if isinstance(body, dict) else str(body)
