"""Recipient address validation: fast enough to run on every row of a recipient file.

Email addresses: in the spirit of GOV.UK Notify's ``validate_email_address``: a deliberately strict local part (no
quoted strings, no semicolons, nothing SES would fail on), dot-separated domain labels, a real-looking top-level
domain, the RFC length limits, and internationalised domains accepted when the ``idna`` codec encodes them
faithfully. No DNS look-ups.

Phone numbers (SMS, Telegram): parsed by ``phonenumbers`` (Google's libphonenumber metadata) with a default region for
numbers written without a country code, checked with ``is_valid_number`` (a number in an assigned range, not merely
the right length), and stored in E.164 (``+6591234567``).
"""

from __future__ import annotations

import re

import phonenumbers

_LOCAL_CHAR = r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]"
# A dot-atom: dots only between characters, never first, last or doubled.
_LOCAL_PART = rf"{_LOCAL_CHAR}+(?:\.{_LOCAL_CHAR}+)*"
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_TOP_LEVEL_DOMAIN = r"(?:[a-zA-Z]{2,63}|[xX][nN]--[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,57}[a-zA-Z0-9])?)"

# One compiled pattern does every ASCII check, so a valid address costs a single fullmatch call. The lookaheads carry
# the length limits: 64 for the local part, 253 for the domain (the 320 total follows from 64 + 1 + 253 < 320).
_ASCII_EMAIL = re.compile(
    rf"(?=[^@]{{1,64}}@){_LOCAL_PART}@(?=[^@]{{1,253}}\Z)(?:{_DOMAIN_LABEL}\.)+{_TOP_LEVEL_DOMAIN}"
)
_ASCII_LOCAL_PART = re.compile(_LOCAL_PART)

MAX_EMAIL_LENGTH = 320


def normalise_email(address: str) -> str:
    """The form an address is stored and compared in: surrounding white space removed, lower-cased."""
    return address.strip().lower()


def is_valid_email(address: str) -> bool:
    """Whether ``address`` (already trimmed) is an email address we are willing to send to."""
    if _ASCII_EMAIL.fullmatch(address) is not None:
        return True
    if address.isascii() or len(address) > MAX_EMAIL_LENGTH:
        return False
    return _is_valid_internationalised_email(address)


def _is_valid_internationalised_email(address: str) -> bool:
    # Only the domain may be internationalised: a non-ASCII local part needs SMTPUTF8, which we cannot count on.
    local_part, at, domain = address.rpartition("@")
    if not at or _ASCII_LOCAL_PART.fullmatch(local_part) is None:
        return False
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        # IDNA 2003 silently drops some characters (zero-width spaces, soft hyphens) and folds others (ß -> ss);
        # an address that does not survive the round trip would be delivered to a different domain than written.
        faithful = ascii_domain.encode("ascii").decode("idna").lower() == domain.lower()
    except UnicodeError:
        return False
    return faithful and _ASCII_EMAIL.fullmatch(f"{local_part}@{ascii_domain}") is not None


# What people put between digits: spaces (any Unicode white space), dashes, dots, slashes and parentheses.
_PHONE_SEPARATORS = re.compile(r"[\s\-./()\u2010-\u2015\u2212]+")
# After separators are removed only an optional "+" and ASCII digits may remain. phonenumbers alone is lenient: it
# reads letters as keypad digits, takes "ext. 12" as an extension and ignores trailing words, none of which is an
# address an SMS can go to.
_PHONE_DIGITS = re.compile(r"\+?[0-9]{3,17}")
_E164 = phonenumbers.PhoneNumberFormat.E164


def normalise_phone(raw: str, region: str) -> str | None:
    """``raw`` as an E.164 number (``+6591234567``), or None when it is not a valid phone number.

    A number without "+" is read as ``region`` (ISO 3166 code, e.g. "SG") writes it: national numbers
    ("9123 4567"), the region's international call prefix ("001 ..." from SG), and the country code written without
    "+" ("65 8123 4567" with region SG) are all understood.
    """
    digits = _PHONE_SEPARATORS.sub("", raw)
    if _PHONE_DIGITS.fullmatch(digits) is None:
        return None
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, _E164)


def is_valid_phone(raw: str, region: str) -> bool:
    return normalise_phone(raw, region) is not None
