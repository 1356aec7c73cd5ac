"""A local HTTP server that speaks the Telegram Bot API wire format.

``GET`` or ``POST /bot{token}/{method}`` with parameters in the query string, a JSON body or a form body; replies
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "..."}`` (plus
``"parameters": {"retry_after": s}`` on 429) with that HTTP status. Serves getMe, setWebhook, deleteWebhook and
sendMessage; a token it does not know gets 401 "Unauthorized". Every call is recorded in ``calls`` with the moment
it arrived, including the refused ones.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.stores import free_port

BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class TelegramCall:
    method: str
    token: str
    params: dict[str, Any]  # as sent: a form body's reply_markup stays a JSON string, a JSON body's is an object
    answered: int  # the HTTP status (= error_code) the fake answered with
    received_at: float = 0.0  # time.monotonic() when the request arrived (before its body was read)


@dataclass
class Webhook:
    url: str
    secret_token: str
    allowed_updates: list[str] = field(default_factory=list)


class FakeTelegram:
    """``with FakeTelegram(tokens={"123456:ABC"}, blocked={42}, throttle_first=2, retry_after=3) as telegram:
    ... telegram.base_url ... telegram.sent`` (the sendMessage calls answered 200).

    ``blocked`` chat ids get 403 "Forbidden: bot was blocked by the user", ``missing`` ones 400 "Bad Request: chat
    not found"; the first ``throttle_first`` sendMessage calls get 429 with ``retry_after``, the first
    ``unavailable_first`` (after those) 502 "Bad Gateway", as Telegram's front end answers during an outage.
    With ``require_https`` setWebhook refuses a plain-http URL, as the real Bot API always does."""

    def __init__(self, tokens: Iterable[str], blocked: Iterable[int | str] = (), missing: Iterable[int | str] = (),
                 throttle_first: int = 0, retry_after: int = 5, unavailable_first: int = 0,
                 require_https: bool = False) -> None:
        self.port = free_port()
        self.tokens = set(tokens)
        self.blocked = {str(chat_id) for chat_id in blocked}
        self.missing = {str(chat_id) for chat_id in missing}
        self.throttle_remaining = throttle_first
        self.retry_after = retry_after
        self.unavailable_remaining = unavailable_first
        self.require_https = require_https
        self.webhooks: dict[str, Webhook] = {}  # by token
        self.calls: list[TelegramCall] = []
        self.lock = threading.Lock()
        self._next_message_id = 1
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-telegram",
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent(self) -> list[TelegramCall]:
        with self.lock:
            return [c for c in self.calls if c.method == "sendMessage" and c.answered == 200]

    def calls_of(self, method: str) -> list[TelegramCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def deliver_update(self, token: str, update: dict[str, Any], secret_token: str | None = None) -> int:
        """POSTs ``update`` to the bot's webhook as Telegram does (with its secret token header unless another is
        given); the HTTP status the webhook answered."""
        webhook = self.webhooks[token]
        secret = webhook.secret_token if secret_token is None else secret_token
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        return requests.post(webhook.url, json=update, headers=headers, timeout=10).status_code

    def __enter__(self) -> "FakeTelegram":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if token not in self.tokens:
            return _error(401, "Unauthorized")
        if method == "getMe":
            return _ok(_bot_user(token))
        if method == "setWebhook":
            return self._set_webhook(token, params)
        if method == "deleteWebhook":
            with self.lock:
                existed = self.webhooks.pop(token, None) is not None
            return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
        if method == "sendMessage":
            return self._send_message(params)
        return _error(404, "Not Found")

    def _set_webhook(self, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "")
        if secret and not _SECRET_TOKEN.match(secret):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        if url and self.require_https and not url.startswith("https://"):
            return _error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates") or []
        if isinstance(allowed, str):  # a form body carries it JSON-serialised
            allowed = json.loads(allowed)
        with self.lock:
            if not url:
                existed = self.webhooks.pop(token, None) is not None
                return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
            self.webhooks[token] = Webhook(url=url, secret_token=secret, allowed_updates=list(allowed))
        return _ok(True, "Webhook was set")

    def _send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = str(params.get("chat_id") or "")
        text = str(params.get("text") or "")
        with self.lock:
            if self.throttle_remaining > 0:
                self.throttle_remaining -= 1
                return _error(429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after)
            if self.unavailable_remaining > 0:
                self.unavailable_remaining -= 1
                return _error(502, "Bad Gateway")
        if not chat_id:
            return _error(400, "Bad Request: chat_id is empty")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if chat_id in self.blocked:
            return _error(403, BLOCKED)
        if chat_id in self.missing:
            return _error(400, CHAT_NOT_FOUND)
        with self.lock:
            message_id, self._next_message_id = self._next_message_id, self._next_message_id + 1
        chat: dict[str, Any] = {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": "private"}
        return _ok({"message_id": message_id, "chat": chat, "date": int(time.time()), "text": text})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._serve(time.monotonic(), b"")

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                received_at = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(received_at, self.rfile.read(length))

            def _serve(self, received_at: float, body: bytes) -> None:
                target = urlsplit(self.path)
                match = _PATH.match(target.path)
                if match is None:
                    self._reply(*_error(404, "Not Found"))
                    return
                try:
                    params = _params(target.query, self.headers.get("Content-Type") or "", body)
                except ValueError:
                    self._reply(*_error(400, "Bad Request: can't parse JSON object"))
                    return
                status, answer = fake._answer(match["token"], match["method"], params)
                with fake.lock:
                    fake.calls.append(TelegramCall(method=match["method"], token=match["token"], params=params,
                                                   answered=status, received_at=received_at))
                self._reply(status, answer)

            def _reply(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {name: values[-1] for name, values in parse_qs(query).items()}
    if not body:
        return params
    if content_type.startswith("application/json"):
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("a JSON object is expected")
        params.update(decoded)
    else:
        params.update({name: values[-1] for name, values in parse_qs(body.decode(), keep_blank_values=True).items()})
    return params


def _bot_user(token: str) -> dict[str, Any]:
    bot_id = token.split(":", 1)[0]
    return {"id": int(bot_id) if bot_id.isdigit() else 0, "is_bot": True, "first_name": "Postman test bot",
            "username": f"postman_{bot_id}_bot", "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


def _ok(result: Any, description: str | None = None) -> tuple[int, dict[str, Any]]:
    answer: dict[str, Any] = {"ok": True, "result": result}
    if description:
        answer["description"] = description
    return 200, answer


def _error(code: int, description: str, retry_after: int | None = None) -> tuple[int, dict[str, Any]]:
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        answer["parameters"] = {"retry_after": retry_after}
    return code, answer
