"""The From of the email template editor: a name the officer types and an address they choose from the ones they may
send from (the platform's default address and their verified sender addresses, Settings > Sender addresses),
instead of free text. The campaign service checks the result with the one rule (``postman_shared.sender_rule``);
this module only turns the two fields into a From and back.

On the default address the saved From reads "<name> via Postman": the editor shows the name without it (the rule
adds it again when saving), and an empty name is the platform's own ("Postman").
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr

from postman_gateway.api.senders import list_addresses
from postman_gateway.core.sender_address_status import SenderAddressStatus
from postman_shared import sender_rule

MAX_FIELD = 320


def _fields(name: str, address: str, header: str) -> dict[str, str]:
    return {"from_name": name, "from_address": address, "from": header}


def saved(header: str, default_from: str) -> dict[str, str]:
    """The editor's fields for a saved From (empty: the default one)."""
    default = sender_rule.default_mailbox(default_from)
    if not header.strip():
        return _fields("", default.address, default_from)
    name, address = parseaddr(header)
    address = (address or header).strip().lower()
    if address == default.address:
        suffix = f" {sender_rule.VIA} {default.name or 'Postman'}"
        if name.casefold().endswith(suffix.casefold()):
            name = name[: -len(suffix)]
        elif name.casefold() == default.name.casefold():
            name = ""
    return _fields(name.strip(), address, header)


def posted(form: Mapping[str, str], default_from: str) -> dict[str, str]:
    """The fields as posted, and the From they make. A form without the drop-down (one of before it, or a client
    posting ``from`` itself) is taken as it is: the campaign service checks it all the same."""
    if "from_address" not in form and "from" in form:
        return {**saved(form["from"], default_from), "from": form["from"]}
    name = " ".join(form.get("from_name", "").split())[:MAX_FIELD]
    address = form.get("from_address", "").strip()[:MAX_FIELD] or sender_rule.default_mailbox(default_from).address
    return _fields(name, address, sender_rule.format_mailbox(name, address))


def options(user_id: int, default_from: str, current: str) -> list[tuple[str, str]]:
    """(value, label) of the From drop-down: the default address, the officer's verified addresses, and the current
    one if it is neither (a draft saved before the rule, an address removed since), so the page shows what is saved."""
    default = sender_rule.default_mailbox(default_from).address
    choices = [(default, f"{default} (the default address)")]
    choices += [(found.email, found.email) for found in list_addresses(user_id)
                if found.status == SenderAddressStatus.VERIFIED and found.email != default]
    if current and current not in {value for value, _ in choices}:
        choices.append((current, f"{current} (not one you may send from: choose another)"))
    return choices


def error_field(message: str) -> str:
    """The field a refused From is about: the address when it may not be used (or is not one), else the name, the
    only free text of the two."""
    about_address = ("not an address you may send from", "the address in from", "not a valid email address")
    return "from_address" if any(words in message for words in about_address) else "from_name"
