"""A small client of the Telegram Bot API, and the HTML subset Telegram accepts.

Every call is ``POST {base_url}/bot{token}/{method}`` with a JSON body; Telegram answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": 429, "description": "...",
"parameters": {"retry_after": 5}}``. The URL carries the bot token, so it is redacted from every error message
and from urllib3's debug log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import nh3
import requests

from postman_shared.logging import get_logger

log = get_logger(component="telegram_bot")

DEFAULT_TIMEOUT = (5.0, 30.0)  # seconds: connecting, then waiting for the reply
REDACTED = "<bot-token>"
_TOKEN_IN_URL = re.compile(r"/bot[^/\s]+/")


class BotApiError(Exception):
    """A call the Bot API refused or could not be reached for. ``error_code`` is Telegram's (its HTTP status), or
    None when no reply came; ``retry_after`` is the seconds Telegram asked to wait (429 only)."""

    def __init__(self, error_code: int | None, description: str, retry_after: int | None = None,
                 method: str = "", no_answer: bool = False) -> None:
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.method = method
        self.no_answer = no_answer  # the request went out but no reply came in time: it may have been carried out
        where = f"Telegram {method}" if method else "Telegram"
        code = f"{error_code} " if error_code is not None else ""
        wait = f" (retry after {retry_after} s)" if retry_after is not None else ""
        super().__init__(f"{where}: {code}{description}{wait}")

    @property
    def transient(self) -> bool:
        """True when trying again later may succeed: throttled (429), Telegram's own failure (5xx) or no reply.
        A reply that timed out may still have been delivered, so a retry can duplicate a message."""
        code = self.error_code
        return code is None or code == 429 or code >= 500


class BotApi:
    """``BotApi(token, base_url).send_message(chat_id, "<b>Hi</b>")``; one HTTP session (kept-alive connections)
    per instance. Not shared between threads without care: a ``requests.Session`` is not documented thread-safe."""

    def __init__(self, token: str, base_url: str = "https://api.telegram.org",
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, session: requests.Session | None = None) -> None:
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = session or requests.Session()
        _redact_urllib3_log()

    def __repr__(self) -> str:
        return f"BotApi(base_url={self._base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "BotApi":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_me(self) -> dict[str, Any]:
        """The bot's User (``id``, ``is_bot``, ``first_name``, ``username``); a bad token raises 401."""
        result: dict[str, Any] = self.call("getMe")
        return result

    def set_webhook(self, url: str, secret_token: str, allowed_updates: Iterable[str] = ("message",)) -> bool:
        """Telegram will POST updates to ``url`` with the header ``X-Telegram-Bot-Api-Secret-Token: secret_token``."""
        return bool(self.call("setWebhook", {"url": url, "secret_token": secret_token,
                                             "allowed_updates": list(allowed_updates)}))

    def delete_webhook(self) -> bool:
        return bool(self.call("deleteWebhook"))

    def send_message(self, chat_id: int | str, text: str, parse_mode: str | None = "HTML",
                     reply_markup: dict[str, Any] | None = None) -> dict[str, Any]:
        """The sent Message (``message_id``, ``chat``, ``date``...)."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if parse_mode:
            params["parse_mode"] = parse_mode
        if reply_markup is not None:
            params["reply_markup"] = reply_markup
        result: dict[str, Any] = self.call("sendMessage", params)
        return result

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The ``result`` of any Bot API method, or BotApiError."""
        url = f"{self._base_url}/bot{self._token}/{method}"
        try:
            response = self._session.post(url, json=params or {}, timeout=self._timeout)
        except requests.RequestException as exc:
            reason = self._redact(f"{type(exc).__name__}: {exc}")
            log.warning("telegram_unreachable", method=method, reason=reason)
            raise BotApiError(None, f"could not reach the Bot API ({reason})", method=method,
                              no_answer=isinstance(exc, requests.ReadTimeout)) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "ok" not in answer:
            raise BotApiError(response.status_code, f"unexpected reply (HTTP {response.status_code}, not Bot API "
                                                    "JSON)", method=method)
        if answer["ok"]:
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        error = BotApiError(int(answer.get("error_code") or response.status_code),
                            self._redact(str(answer.get("description") or "no description")),
                            int(retry_after) if retry_after is not None else None, method=method)
        log.info("telegram_refused", method=method, error_code=error.error_code, description=error.description,
                 retry_after=error.retry_after)
        raise error

    def _redact(self, text: str) -> str:
        return _TOKEN_IN_URL.sub(f"/bot{REDACTED}/", text.replace(self._token, REDACTED) if self._token else text)


class _RedactTokens(logging.Filter):
    """urllib3 logs each request line (with the token in its URL) at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg, record.args = _TOKEN_IN_URL.sub(f"/bot{REDACTED}/", message), ()
        return True


def _redact_urllib3_log() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())


# Telegram's parse_mode HTML: these tags and attributes only; any other makes sendMessage fail with
# "can't parse entities", so they are stripped (their text kept).
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
                 "pre", "blockquote", "tg-emoji"}
_ATTRIBUTES = {"a": {"href"}, "span": {"class"}, "code": {"class"}, "blockquote": {"expandable"},
               "tg-emoji": {"emoji-id"}}
# Possessive runs: the author's text is never backtracked over (issue 13).
_BR = re.compile(r"<br\s*+/?>", re.IGNORECASE)
_PAIRED = re.compile(r"<(/?)(span|a)((?: [^>]*+)?)>")


def telegram_html(text: str) -> str:
    """``text`` with only the HTML Telegram accepts: its tags kept, every other tag removed (its text kept,
    scripts and styles dropped whole), ``<br>`` turned into a newline, entities Telegram knows."""
    cleaned = nh3.clean(
        _BR.sub("\n", text), tags=TELEGRAM_TAGS, attributes=_ATTRIBUTES, attribute_filter=_allowed_attribute,
        link_rel=None, url_schemes=nh3.ALLOWED_URL_SCHEMES | {"tg"},
        strip_comments=True)
    # Telegram knows only the named entities lt, gt, amp and quot
    cleaned = cleaned.replace("&nbsp;", "\u00a0").replace("<blockquote expandable=\"\">", "<blockquote expandable>")
    return _without_empty_tags(cleaned)


def _allowed_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in _ATTRIBUTES.get(tag, ()):  # nh3 also lets generic ones (title, lang) through
        return None
    if attribute == "class":
        if tag == "span":
            return value if value == "tg-spoiler" else None
        return value if re.fullmatch(r"language-[\w+#-]+", value) else None
    return value


def _without_empty_tags(html: str) -> str:
    """Telegram refuses a <span> that is not a spoiler and an <a> without href: drop those tags (their text kept).
    nh3's output is balanced, so a stack pairs each closing tag with its opening one."""
    kept: dict[str, list[bool]] = {"span": [], "a": []}

    def replace(match: re.Match[str]) -> str:
        closing, name, attributes = match.group(1), match.group(2), match.group(3)
        if closing:
            return match.group(0) if kept[name] and kept[name].pop() else ""
        keep = bool(attributes) if name == "a" else attributes == ' class="tg-spoiler"'
        kept[name].append(keep)
        return match.group(0) if keep else ""

    return _PAIRED.sub(replace, html)
