"""How long an SMS is: its encoding and how many segments (message parts) it is sent as.

A message made only of characters of the GSM 03.38 alphabet is sent in GSM-7: 160 septets fit in one SMS; a longer
message is split into parts of 153 (each part spends 7 septets on the header that joins them). Characters of the
extension table (``| ^ € { } [ ] ~ \\`` and form feed) take an escape septet plus their own, so count twice. Any other
character makes the whole message UCS-2: 70 UTF-16 code units in one SMS, 67 per part of a longer one; characters
outside the Basic Multilingual Plane (most emoji) are two code units.

A part never ends between the two halves of an extension character or of a surrogate pair (phones could not put
them back together), so such a character at a boundary moves to the next part, as carriers' encoders do.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_7 = "GSM-7"
UCS_2 = "UCS-2"

# GSM 03.38 basic character set, without the escape (0x1B) that introduces the extension table.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("|^€{}[]~\\\f")
_GSM = GSM_BASIC | GSM_EXTENSION

SINGLE_LIMITS = {GSM_7: 160, UCS_2: 70}
PART_LIMITS = {GSM_7: 153, UCS_2: 67}


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: str  # GSM_7 or UCS_2
    characters: int  # length in the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2
    segments: int  # SMS parts the message is sent as (an empty message is still one)


def measure(text: str) -> SmsLength:
    """The encoding ``text`` is sent in, its length in that encoding's units, and its number of segments."""
    if _GSM.issuperset(text):
        encoding = GSM_7
        doubled = sum(map(text.count, GSM_EXTENSION))
    else:
        encoding = UCS_2
        doubled = len(text.encode("utf-16-le", "surrogatepass")) // 2 - len(text)
    characters = len(text) + doubled
    if characters <= SINGLE_LIMITS[encoding]:
        return SmsLength(encoding, characters, 1)
    part = PART_LIMITS[encoding]
    if not doubled:
        return SmsLength(encoding, characters, -(-characters // part))
    return SmsLength(encoding, characters, _packed_parts(text, encoding, part))


def _packed_parts(text: str, encoding: str, part: int) -> int:
    """Parts needed when two-unit characters may not be split: fill each part greedily."""
    double = GSM_EXTENSION if encoding == GSM_7 else None
    parts, used = 1, 0
    for character in text:
        width = 2 if (character in double if double is not None else character > "\uffff") else 1
        if used + width > part:
            parts += 1
            used = 0
        used += width
    return parts

