"""Who an email may say it is from: the one rule for campaign and transactional email (issue 12).

An email may leave only with a From that is either

- the platform's default address (the address of ``EMAIL_FROM``), under any display name, which then reads
  "<name> via <platform>" ("Ministry of Health via Postman", Postman's wording); without a name it is ``EMAIL_FROM``
  as configured; or
- an address the sending user has proven they own (``sender_addresses`` in auth, VERIFIED), with its display name
  as written.

Anything else is refused with ``invalid_from_address`` naming the rule. The value is read strictly, because a From
that a mail client would show differently from what was checked is the whole danger:

- exactly one mailbox, written ``address``, ``Name <address>`` or ``"Name" <address>``: no list (``,``), group
  (``:``, ``;``), comment (parentheses), route or stray quote or backslash;
- no RFC 2047 encoded word (``=?utf-8?b?...?=``) anywhere: a client would decode it into text nobody checked
  (``=?utf-8?q?ceo=40moh.gov.sg?=`` shows as ``ceo@moh.gov.sg``);
- no line break, control character or invisible formatting character (zero-width, bidirectional overrides);
- the address plain ASCII (so a Cyrillic ``о`` or a fullwidth letter cannot pass for a Latin one) and valid by
  ``postman_shared.validators``; compared lower-cased;
- a display name must not look like an address: one holding ``@``, ``<`` or ``>`` (also their fullwidth and other
  compatibility look-alikes, found through NFKC) is refused rather than silently changed, so
  ``"ceo@moh.gov.sg" <x@evil.example>`` is never shown to anyone. Other Unicode names (Chinese, Tamil, Malay
  agencies' names) are fine: the sender encodes them on the wire.

Pure: no I/O. The caller passes the user's verified addresses, or a function that fetches them, called only when
the address is not the default one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email.utils import parseaddr

from postman_shared.grpc.errors import ErrorCode, ServiceError
from postman_shared.validators import is_valid_email

MAX_NAME_CHARACTERS = 200
MAX_VALUE_CHARACTERS = 600
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")  # controls, invisible formatting, line and paragraph separators
_SPECIALS = set('()<>[]:;@\\,."')  # RFC 5322: a display name holding one is written as a quoted string
_LOOKS_LIKE_ADDRESS = ("@", "<", ">")
VIA = "via"


@dataclass(frozen=True)
class Mailbox:
    """One From value, read: the display name ("" when none) and the address, lower-cased."""

    name: str
    address: str


@dataclass(frozen=True)
class Sender:
    """The From an email goes out with: ``header`` is what to write; ``default`` says it is the platform's
    address (no verification needed)."""

    name: str
    address: str
    header: str
    default: bool


def _refuse(message: str) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_FROM_ADDRESS, message)


def _shown(value: str) -> str:
    """The value quoted in an error message: short, and with hidden characters made visible."""
    return repr(value[:80])


def parse_from(value: str) -> Mailbox:
    """Reads one From value strictly (see the module docstring); ``ServiceError(invalid_from_address)`` says what
    is wrong with it."""
    text = value.strip()
    if not text:
        raise _refuse("from is empty: give an address, or leave from out to send from the default address")
    if len(text) > MAX_VALUE_CHARACTERS:
        raise _refuse(f"from is {len(text)} characters long; at most {MAX_VALUE_CHARACTERS} are allowed")
    if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in text):
        raise _refuse(f"from {_shown(text)} holds a line break, control or invisible character: write it on one "
                      "line with visible characters only")
    if "=?" in text:
        raise _refuse(f"from {_shown(text)} holds an encoded word (=?…?=): write the name as it should read, "
                      "the email is encoded when it is sent")
    name_part, address = _split(text)
    name = _display_name(name_part, text)
    address = address.strip()
    if not address.isascii():
        raise _refuse(f"the address in from {_shown(text)} has characters outside plain ASCII (a look-alike "
                      "letter?): an address you send from must be written in plain ASCII")
    if not is_valid_email(address):
        raise _refuse(f"from {_shown(text)} is not a valid email address")
    return Mailbox(name=name, address=address.lower())


def _split(text: str) -> tuple[str, str]:
    """(the text before ``<``, the address) of ``Name <address>``, or ("", text) for a bare address; refuses
    lists, groups, comments and stray quoting."""
    quoted = escaped = False
    opened = closed = -1
    for position, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if closed >= 0 and not char.isspace():
            raise _refuse(f"from {_shown(text)} has text after the address's closing '>'")
        if char == '"':
            if opened >= 0:
                raise _refuse(f"from {_shown(text)} has a quote inside the address")
            quoted = True
        elif char in "()":
            raise _refuse(f"from {_shown(text)} holds a comment in parentheses: write only a name and one address")
        elif char in ",;:":
            raise _refuse(f"from {_shown(text)} must hold exactly one address, without a list or group")
        elif char == "\\":
            raise _refuse(f"from {_shown(text)} has a backslash outside quotes")
        elif char == "<":
            if opened >= 0:
                raise _refuse(f"from {_shown(text)} must hold exactly one address in <…>")
            opened = position
        elif char == ">":
            if opened < 0 or closed >= 0:
                raise _refuse(f"from {_shown(text)} has a '>' without its '<'")
            closed = position
    if quoted:
        raise _refuse(f"from {_shown(text)} has a quote that is not closed")
    if opened < 0:
        if any(c.isspace() or c == '"' for c in text):
            raise _refuse(f"from {_shown(text)} is not one address: write it as Name <address>")
        return "", text
    if closed < 0:
        raise _refuse(f"from {_shown(text)} has a '<' without its '>'")
    return text[:opened], text[opened + 1:closed]


def _display_name(raw: str, text: str) -> str:
    """The name as it will read: the quoted string unquoted, or the plain text; refuses one that looks like an
    address or mixes quoted and plain text."""
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        inner = raw[1:-1]
        name, escaped = [], False
        for char in inner:
            if escaped:
                name.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                raise _refuse(f"from {_shown(text)} mixes quoted and plain text in its name")
            else:
                name.append(char)
        value = "".join(name).strip()
    elif '"' in raw:
        raise _refuse(f"from {_shown(text)} mixes quoted and plain text in its name")
    else:
        value = " ".join(raw.split())
    if len(value) > MAX_NAME_CHARACTERS:
        raise _refuse(f"the name in from is {len(value)} characters long; at most {MAX_NAME_CHARACTERS} are "
                      "allowed")
    folded = unicodedata.normalize("NFKC", value)
    if any(mark in folded for mark in _LOOKS_LIKE_ADDRESS):
        raise _refuse(f"the name in from {_shown(text)} looks like an address (it holds @, < or >, or a "
                      "look-alike of one): a name must not pretend to be another sender")
    return value


def format_mailbox(name: str, address: str) -> str:
    """``Name <address>`` (the name quoted when it holds an RFC 5322 special), or the bare address."""
    if not name:
        return address
    if any(c in _SPECIALS for c in name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def default_mailbox(default_from: str) -> Mailbox:
    """EMAIL_FROM, read (it is configuration, so read leniently)."""
    name, address = parseaddr(default_from)
    return Mailbox(name=name.strip(), address=(address or default_from).strip().lower())


def via_name(name: str, platform_name: str) -> str:
    """Postman's wording for a name on the platform's address: "<name> via Postman". A name that already says
    so, or is the platform's own, is kept as it is (so saving a template twice does not say it twice)."""
    platform = platform_name or "Postman"
    suffix = f" {VIA} {platform}"
    if name.casefold() == platform.casefold() or name.casefold().endswith(suffix.casefold()):
        return name
    return name + suffix


def allowed_sender(value: str, default_from: str,
                   verified: Collection[str] | Callable[[], Collection[str]]) -> Sender:
    """The From to send ``value`` with, for a user whose verified addresses are ``verified`` (a collection, or a
    function returning one, called only when the address is not the default). An empty value is the default."""
    default = default_mailbox(default_from)
    if not value.strip():
        return Sender(name=default.name, address=default.address, header=format_mailbox(default.name, default.address),
                      default=True)
    mailbox = parse_from(value)
    if mailbox.address == default.address:
        name = via_name(mailbox.name, default.name) if mailbox.name else default.name
        return Sender(name=name, address=default.address, header=format_mailbox(name, default.address), default=True)
    addresses = verified() if callable(verified) else verified
    if mailbox.address in {address.strip().lower() for address in addresses}:
        return Sender(name=mailbox.name, address=mailbox.address,
                      header=format_mailbox(mailbox.name, mailbox.address), default=False)
    raise _refuse(f"from {_shown(value.strip())} is not an address you may send from: send from {default.address} "
                  "(with any display name) or from an address you verified in Settings > Sender addresses")


def is_default_address(value: str, default_from: str) -> bool:
    """Whether ``value`` is empty or names the default address (no lookup of verified addresses is needed); a value
    that cannot be read is not."""
    if not value.strip():
        return True
    try:
        return parse_from(value).address == default_mailbox(default_from).address
    except ServiceError:
        return False
