"""What a bot says to a person, one webhook update at a time.

    /start, /updatenumber    -> asks for the phone number with a one-tap "share my phone number" keyboard
    a contact of their own   -> stores the number (E.164) for this bot and confirms it, removing the keyboard
    someone else's contact   -> asks for their own number instead
    anything else, /help     -> the list of commands

Only private chats are answered (a bot added to a group stays silent there). Anything a person writes clears the
mark of having blocked the bot; a ``my_chat_member`` update saying they blocked ("kicked") or unblocked it sets or
clears it, without a reply. Telegram sends a shared number without
"+" ("6591234567"): it is read as international, then normalised like every other phone number of the platform
(``DEFAULT_PHONE_REGION`` for one written without a country code). Storing is an upsert, so an update delivered
twice gives the same row and the same reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from postman_shared.validators import normalise_phone

SHARE_BUTTON = "Share my phone number"
SHARE_KEYBOARD: dict[str, Any] = {
    "keyboard": [[{"text": SHARE_BUTTON, "request_contact": True}]],
    "one_time_keyboard": True,
    "resize_keyboard": True,
}
REMOVE_KEYBOARD: dict[str, Any] = {"remove_keyboard": True}

ASK_NUMBER = ("Welcome! To receive messages from government agencies through this bot, share your phone number: "
              f"tap \"{SHARE_BUTTON}\" below.")
ASK_NEW_NUMBER = f"To change the phone number you receive messages for, tap \"{SHARE_BUTTON}\" below."
NOT_YOURS = f"That is someone else's contact. Please share your own phone number: tap \"{SHARE_BUTTON}\" below."
HELP = ("This bot delivers messages that government agencies send with Postman to your phone number.\n"
        "/start - subscribe with your phone number\n"
        "/updatenumber - change the phone number you receive messages for\n"
        "/help - show this list")


def subscribed(number: str) -> str:
    return (f"Thank you. Messages for {number} will now come to this chat. If your number changes, send "
            "/updatenumber.")


def invalid_number(shared: str) -> str:
    return (f"{shared} is not a phone number messages can be sent to. Please share your own phone number: tap "
            f"\"{SHARE_BUTTON}\" below.")


class Subscribers(Protocol):
    def subscribe(self, bot_id: int, telegram_user_id: int, chat_id: int, phone_number: str) -> str | None: ...

    def set_blocked(self, bot_id: int, *, chat_id: int | None = None, telegram_user_id: int | None = None,
                    blocked: bool = True) -> int: ...


@dataclass(frozen=True)
class Reply:
    chat_id: int
    text: str  # plain text: sent without parse_mode
    reply_markup: dict[str, Any] | None
    kind: str  # start, updatenumber, contact, not_own_contact, invalid_number, help: for logs and metrics


def respond(update: dict[str, Any], bot_id: int, subscribers: Subscribers, region: str) -> Reply | None:
    """The reply to one update (after storing a shared number), or None when the update asks for none."""
    member = update.get("my_chat_member")
    if isinstance(member, dict):
        _membership(member, bot_id, subscribers)
        return None
    message = update.get("message")
    if not isinstance(message, dict):
        return None  # edited messages, channel posts...: not subscribed to, nothing to say
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not isinstance(sender, dict):
        return None
    chat_id, user_id = _id(chat.get("id")), _id(sender.get("id"))
    if chat_id is None or user_id is None or sender.get("is_bot"):
        return None
    subscribers.set_blocked(bot_id, telegram_user_id=user_id, blocked=False)  # they talk to the bot again

    contact = message.get("contact")
    if isinstance(contact, dict):
        return _contact(contact, chat_id, user_id, bot_id, subscribers, region)
    command = _command(message.get("text"))
    if command == "/start":
        return Reply(chat_id, ASK_NUMBER, SHARE_KEYBOARD, "start")
    if command == "/updatenumber":
        return Reply(chat_id, ASK_NEW_NUMBER, SHARE_KEYBOARD, "updatenumber")
    return Reply(chat_id, HELP, None, "help")


def _contact(contact: dict[str, Any], chat_id: int, user_id: int, bot_id: int, subscribers: Subscribers,
             region: str) -> Reply:
    # Telegram fills user_id only for the contact of a Telegram user; the request_contact button shares the
    # sender's own, so anything else is a contact card of someone else.
    if contact.get("user_id") != user_id:
        return Reply(chat_id, NOT_YOURS, SHARE_KEYBOARD, "not_own_contact")
    shared = str(contact.get("phone_number") or "").strip()
    number = normalise_phone(shared if shared.startswith("+") else "+" + shared, region) if shared else None
    if number is None:
        return Reply(chat_id, invalid_number(shared or "That"), SHARE_KEYBOARD, "invalid_number")
    subscribers.subscribe(bot_id, user_id, chat_id, number)
    return Reply(chat_id, subscribed(number), REMOVE_KEYBOARD, "contact")


def _membership(member: dict[str, Any], bot_id: int, subscribers: Subscribers) -> None:
    """A person blocked the bot (their private chat's new status "kicked") or unblocked it ("member")."""
    chat, sender, new = member.get("chat"), member.get("from"), member.get("new_chat_member")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not isinstance(new, dict):
        return
    user_id = _id(sender.get("id")) if isinstance(sender, dict) else None
    if user_id is None:
        return
    if new.get("status") == "kicked":
        subscribers.set_blocked(bot_id, telegram_user_id=user_id, blocked=True)
    elif new.get("status") == "member":
        subscribers.set_blocked(bot_id, telegram_user_id=user_id, blocked=False)


def _command(text: Any) -> str | None:
    """``/start`` of "/start", "/start@my_bot" or "/start payload"; None when the text is not a command."""
    if not isinstance(text, str) or not text.startswith("/"):
        return None
    return text.split(maxsplit=1)[0].split("@", 1)[0].lower()


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
