"""The template language: {{ key }} tags, parsed once, rendered by joining."""

from __future__ import annotations

import pytest

from postman_renderer.template import TemplateError, parse


def test_tags_are_replaced_by_the_recipients_values():
    assert parse("Dear {{ name }}, your code is {{code}}.").render({"name": "Ann", "code": "42"}) == (
        "Dear Ann, your code is 42."
    )


def test_white_space_inside_the_braces_is_optional():
    assert parse("{{name}}|{{ name }}|{{   name\t}}").render({"name": "x"}) == "x|x|x"


def test_keys_are_matched_case_insensitively_and_listed_lower_cased_in_first_seen_order():
    template = parse("{{ Code }} {{NAME}} {{ code }} {{ Name }} {{ Ünï_2 }}")
    assert template.keys == ["code", "name", "ünï_2"]
    assert template.render({"code": "1", "name": "n", "ünï_2": "u"}) == "1 n 1 n u"


def test_a_key_missing_from_the_values_renders_empty():
    assert parse("a{{ missing }}b").render({}) == "ab"


def test_text_without_tags_and_a_lone_closing_pair_are_plain_text():
    assert parse("x }} y { z }").render({}) == "x }} y { z }"
    assert parse("").render({}) == ""
    assert parse("}}{{a}}}}").render({"a": "A"}) == "}}A}}"


def test_substitution_is_single_pass_so_a_value_is_never_read_as_a_tag():
    assert parse("{{ a }}").render({"a": "{{ b }}", "b": "no"}) == "{{ b }}"


def test_non_text_values_render_as_text_and_none_as_empty():
    assert parse("{{ n }}/{{ none }}").render({"n": 3, "none": None}) == "3/"


def test_escape_is_applied_to_every_value_but_not_to_the_template():
    assert parse("<b>{{ a }}</b>").render({"a": "x"}, escape=str.upper) == "<b>X</b>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{}}", 'Empty tag "{{}}" at line 1, column 1'),
        ("Hi\nthere {{ }}", 'Empty tag "{{ }}" at line 2, column 7'),
        ("Hello {{ name", 'Unclosed tag "{{ name" at line 1, column 7: add "}}"'),
        ("Hello {{ name\nnext line", 'Unclosed tag "{{ name" at line 1, column 7: add "}}"'),
        ("Hi {{ name, code {{ code }}", 'Unclosed tag "{{ name, code" at line 1, column 4: add "}}"'),
        ("a\nb\n{{ first name }}", 'Invalid key "{{ first name }}" at line 3, column 1: keys may contain only '
                                   "letters, digits and underscores"),
        ("{{a-b}}", 'Invalid key "{{a-b}}" at line 1, column 1'),
        ("x {{{x}}}", 'Invalid tag "{{{x}}}" at line 1, column 3: use exactly two braces'),
        ("{{ {{x}} }}", 'Nested tag "{{ {{x}} }}" at line 1, column 1'),
    ],
)
def test_malformed_tags_are_errors_that_quote_the_tag_and_say_where_it_is(text, message):
    with pytest.raises(TemplateError) as raised:
        parse(text)
    assert raised.value.message.startswith(message)


def test_the_first_malformed_tag_is_reported_after_good_ones():
    with pytest.raises(TemplateError, match=r'"\{\{ a b \}\}" at line 2, column 3'):
        parse("{{ ok }}\n  {{ a b }} {{}}")


def test_a_very_long_unclosed_tag_is_quoted_shortened():
    with pytest.raises(TemplateError) as raised:
        parse("{{ " + "x" * 500)
    assert len(raised.value.message) < 120
    assert "…" in raised.value.message
