"""SMS length (GSM-7 or UCS-2, segments) and SMS templates (plain text, <br> only, a segment limit)."""

from __future__ import annotations

import pytest

from postman_renderer.sms import GSM_7, UCS_2, SmsLength, measure
from postman_renderer.sms_template import SmsMessageTemplate, plain_sms_text, validate_sms_template
from postman_renderer.template import TemplateError

# -- measure -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsLength(GSM_7, 0, 1)),
        ("a" * 160, SmsLength(GSM_7, 160, 1)),
        ("a" * 161, SmsLength(GSM_7, 161, 2)),
        ("a" * 153 * 2, SmsLength(GSM_7, 306, 2)),
        ("a" * (153 * 2 + 1), SmsLength(GSM_7, 307, 3)),
        ("a" * 153 * 10, SmsLength(GSM_7, 1530, 10)),
    ],
)
def test_gsm7_messages_fit_160_septets_in_one_segment_and_153_per_part(text: str, expected: SmsLength) -> None:
    assert measure(text) == expected


def test_the_whole_gsm_basic_set_with_accents_and_greek_stays_gsm7() -> None:
    text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r"

    assert measure(text) == SmsLength(GSM_7, len(text), 1)


@pytest.mark.parametrize("character", list("|^€{}[]~\\\f"))
def test_an_extension_character_counts_two_septets(character: str) -> None:
    assert measure("a" + character) == SmsLength(GSM_7, 3, 1)


def test_an_extension_character_pushes_a_full_message_into_a_second_segment() -> None:
    assert measure("a" * 159 + "€") == SmsLength(GSM_7, 161, 2)
    assert measure("a" * 158 + "€") == SmsLength(GSM_7, 160, 1)


def test_an_extension_character_is_never_split_between_two_parts() -> None:
    # 306 septets would fill two parts exactly, but the "€" straddling the first boundary moves whole to the second.
    assert measure("a" * 152 + "€" + "a" * 152) == SmsLength(GSM_7, 306, 3)
    assert measure("a" * 151 + "€" + "a" * 153) == SmsLength(GSM_7, 306, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ā" * 70, SmsLength(UCS_2, 70, 1)),
        ("ā" * 71, SmsLength(UCS_2, 71, 2)),
        ("ā" * 67 * 2, SmsLength(UCS_2, 134, 2)),
        ("ā" * (67 * 2 + 1), SmsLength(UCS_2, 135, 3)),
        ("你好" * 35, SmsLength(UCS_2, 70, 1)),
    ],
)
def test_ucs2_messages_fit_70_code_units_in_one_segment_and_67_per_part(text: str, expected: SmsLength) -> None:
    assert measure(text) == expected


def test_one_character_outside_gsm_makes_the_whole_message_ucs2() -> None:
    assert measure("a" * 69 + "’") == SmsLength(UCS_2, 70, 1)  # a typographic apostrophe
    assert measure("€" * 70 + "ā") == SmsLength(UCS_2, 71, 2)  # "€" is one code unit in UCS-2


def test_an_emoji_counts_two_code_units() -> None:
    assert measure("😀") == SmsLength(UCS_2, 2, 1)
    assert measure("a" * 68 + "😀") == SmsLength(UCS_2, 70, 1)
    assert measure("a" * 69 + "😀") == SmsLength(UCS_2, 71, 2)


def test_an_emoji_is_never_split_between_two_parts() -> None:
    assert measure("a" * 66 + "😀" + "a" * 66) == SmsLength(UCS_2, 134, 3)
    assert measure("a" * 65 + "😀" + "a" * 67) == SmsLength(UCS_2, 134, 2)


# -- templates ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["<br>", "<br/>", "<br />", "<BR>", "<br  />"])
def test_line_break_tags_become_new_lines(tag: str) -> None:
    assert validate_sms_template(f"Hi {{{{ name }}}},{tag}see you", 10).body == "Hi {{ name }},\nsee you"


def test_a_valid_template_reports_its_keys_and_its_length_as_written() -> None:
    template = validate_sms_template("  Dear {{ Name }}, your code is {{code}}.\r\n", 10)

    assert template.body == "Dear {{ Name }}, your code is {{code}}."
    assert template.params == ["name", "code"]
    # The braces of the tags are GSM extension characters: 39 characters, 8 of them braces, are 47 septets.
    assert template.length == SmsLength(GSM_7, 47, 1)


@pytest.mark.parametrize(
    ("body", "quoted", "where"),
    [
        ("Hi <b>{{ name }}</b>", "<b>", "line 1, column 4"),
        ('Hi\nthere <a href="https://go.gov.sg">link</a>', '<a href="https://go.gov.sg">', "line 2, column 7"),
        ("Hi </p>", "</p>", "line 1, column 4"),
        ("<img src=x/>", "<img src=x/>", "line 1, column 1"),
    ],
)
def test_html_other_than_line_breaks_is_refused_naming_the_tag_and_where(body: str, quoted: str, where: str) -> None:
    with pytest.raises(TemplateError) as raised:
        validate_sms_template(body, 10)

    assert raised.value.message == (
        f'Body: HTML tag "{quoted}" at {where} is not allowed: SMS messages are plain text '
        "(use <br> or a new line for a line break)"
    )


def test_angle_brackets_that_are_not_tags_are_plain_text() -> None:
    assert validate_sms_template("1 < 2 > 0 <3 a<-b", 10).body == "1 < 2 > 0 <3 a<-b"


def test_a_malformed_key_is_refused_like_in_email() -> None:
    with pytest.raises(TemplateError, match=r'^Body: Invalid key "\{\{ first name \}\}" at line 1, column 4'):
        validate_sms_template("Hi {{ first name }}", 10)


@pytest.mark.parametrize("body", ["", "  \r\n ", "<br>"])
def test_an_empty_body_is_refused(body: str) -> None:
    with pytest.raises(TemplateError, match="^The message body is empty$"):
        validate_sms_template(body, 10)


def test_a_template_longer_than_the_limit_is_refused_with_its_length_and_the_limit() -> None:
    assert validate_sms_template("a" * 153 * 3, 3).length.segments == 3

    with pytest.raises(TemplateError) as raised:
        validate_sms_template("ā" * (67 * 3 + 1), 3)

    assert raised.value.message == "The message is 4 segments long (UCS-2); at most 3 segments are allowed"


def test_values_are_not_html_escaped_and_cannot_become_tags() -> None:
    template = SmsMessageTemplate.parse("Hi {{ name }}<br>")

    assert template.render({"name": "<Tan & {{ code }}>"}) == "Hi <Tan & {{ code }}>\n"


def test_values_keep_their_line_breaks_and_lose_other_control_characters() -> None:
    template = SmsMessageTemplate.parse("{{ address }}")

    assert template.render({"address": "Blk 1\r\nTampines\rSt 1\tSG\x00\x1b\x07"}) == "Blk 1\nTampines\nSt 1 SG"


def test_parsing_a_saved_template_refuses_html_too() -> None:
    with pytest.raises(TemplateError, match='"<i>"'):
        SmsMessageTemplate.parse("<i>x</i>")


def test_plain_text_is_returned_unchanged_when_there_is_nothing_to_clean() -> None:
    text = "Hello, 世界 😀"

    assert plain_sms_text(text) is text
