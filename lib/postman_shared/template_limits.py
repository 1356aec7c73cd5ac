"""How large a template may be, per channel: one rule for the campaign service (which saves templates) and the
renderer (which checks and previews them), so saving and the editor's preview refuse the same templates.

Why a limit at all: the renderer's work on a template (checking, sanitising, rendering it for every recipient and
every preview keystroke) grows with its size, and the API accepts a 1 MiB request. Each channel's limit is well
above what it can send: an email past ~100 KB is clipped by Gmail, an SMS is at most ``SMS_MAX_SEGMENTS`` parts,
a Telegram message at most 4,096 characters. Sizes are UTF-8 bytes of each field as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from postman_shared.settings import Settings

_NAMES = {"EMAIL": "an email", "SMS": "an SMS", "TELEGRAM": "a Telegram"}


@dataclass(frozen=True)
class TemplateLimits:
    email_bytes: int = Settings.email_template_max_bytes
    sms_bytes: int = Settings.sms_template_max_bytes
    telegram_bytes: int = Settings.telegram_template_max_bytes

    @classmethod
    def of(cls, settings: Settings) -> "TemplateLimits":
        return cls(settings.email_template_max_bytes, settings.sms_template_max_bytes,
                   settings.telegram_template_max_bytes)

    def max_bytes(self, channel: str) -> int:
        """The limit of ``channel`` (EMAIL, SMS or TELEGRAM; "" is email, as in the renderer)."""
        channel = channel.upper() or "EMAIL"
        return {"EMAIL": self.email_bytes, "SMS": self.sms_bytes, "TELEGRAM": self.telegram_bytes}.get(
            channel, self.email_bytes)

    def problem(self, channel: str, text: str) -> str | None:
        """What is wrong with a field's ``text`` for its size ("is 200,000 bytes; ..."), or None when it fits.
        Cheap on any input: a character is at most 4 bytes, so only a long text is encoded to be measured."""
        limit = self.max_bytes(channel)
        if len(text) * 4 <= limit:
            return None
        size = len(text.encode("utf-8", "surrogatepass"))
        if size <= limit:
            return None
        name = _NAMES.get(channel.upper() or "EMAIL", "an email")
        return f"is {size:,} bytes long; {name} template may be at most {limit:,} bytes"
