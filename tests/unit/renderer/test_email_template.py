"""Email templates: sanitised when saved, values escaped when rendered."""

from __future__ import annotations

import random
import string

import pytest

from postman_renderer.email_template import EmailMessageTemplate, escape_html_value, validate_email_template
from postman_renderer.sanitise import sanitise_email_html
from postman_renderer.template import TemplateError


def test_saving_keeps_email_markup_and_removes_scripts_handlers_and_styles():
    body = sanitise_email_html(
        '<p style="color:red" onclick="x()">Hi <b>{{ name }}</b></p><script>alert(1)</script>'
        '<img src="https://x.gov.sg/a.png" onerror="alert(1)" alt="logo"><iframe src="https://evil"></iframe>'
        '<table border="1"><tbody><tr><td colspan="2">cell</td></tr></tbody></table>'
    )
    assert body == (
        '<p>Hi <b>{{ name }}</b></p><img src="https://x.gov.sg/a.png" alt="logo">'
        '<table border="1"><tbody><tr><td colspan="2">cell</td></tr></tbody></table>'
    )


def test_links_get_noopener_and_only_web_mail_and_phone_schemes_survive():
    body = sanitise_email_html(
        '<a href="https://go.gov.sg" target="_blank">a</a><a href="mailto:x@y.sg">b</a><a href="tel:+6561234567">c</a>'
        '<a href="javascript:alert(1)">d</a><a href="data:text/html,x">e</a>'
    )
    assert body.count('rel="noopener noreferrer"') == 5
    assert 'href="https://go.gov.sg"' in body and 'target="_blank"' in body
    assert 'href="mailto:x@y.sg"' in body and 'href="tel:+6561234567"' in body
    assert "javascript" not in body and "data:" not in body


@pytest.mark.parametrize(
    "link",
    ['<a href="{{link}}">x</a>', '<a href="{{ link }}">x</a>', '<a href="https://x.gov.sg/?id={{ id }}&amp;r=1">x</a>',
     '<img src="{{ image }}" alt="{{ alt }}">'],
)
def test_tags_survive_sanitising_even_inside_attributes(link):
    cleaned = sanitise_email_html(link)
    for tag in ("{{link}}", "{{ link }}", "{{ id }}", "{{ image }}", "{{ alt }}"):
        assert (tag in cleaned) == (tag in link)


def test_validation_returns_the_sanitised_body_and_the_keys_of_subject_then_body():
    template = validate_email_template("Hello {{ Name }}", '<p onclick="x">{{ code }} for {{ name }}</p>')
    assert template.body == "<p>{{ code }} for {{ name }}</p>"
    assert template.params == ["name", "code"]


def test_keys_only_inside_removed_markup_are_not_params():
    template = validate_email_template("Hi", "<p>{{ a }}</p><script>{{ b }}</script>")
    assert template.params == ["a"]


def test_validation_errors_say_whether_subject_or_body_is_wrong():
    with pytest.raises(TemplateError, match=r'^Subject: Unclosed tag "\{\{ name" at line 1, column 4'):
        validate_email_template("Hi {{ name", "<p>x</p>")
    with pytest.raises(TemplateError, match=r'^Body: Empty tag "\{\{\}\}" at line 2, column 3'):
        validate_email_template("Hi", "<p>\n  {{}}</p>")


@pytest.mark.parametrize("body", ["", "   \n", "<script>alert(1)</script>"])
def test_an_empty_body_is_refused(body):
    with pytest.raises(TemplateError, match="^The message body is empty$"):
        validate_email_template("Hi", body)


def test_line_breaks_in_a_saved_subject_become_spaces():
    assert validate_email_template("Hi\r\nBcc: x@y.sg", "<p>x</p>").subject == "Hi  Bcc: x@y.sg"


def test_body_values_are_html_escaped_and_never_re_interpreted():
    template = EmailMessageTemplate.parse("{{ name }}", "<p>{{ name }} / {{ other }}</p>")
    _, body = template.render({"name": '<b>x</b> & "q" {{ other }}', "other": "O"})
    assert body == "<p>&lt;b&gt;x&lt;/b&gt; &amp; &quot;q&quot; &#123;&#123; other &#125;&#125; / O</p>"


def test_subject_values_stay_plain_text_but_cannot_break_the_header_line():
    template = EmailMessageTemplate.parse("Hi {{ name }}", "<p>x</p>")
    subject, _ = template.render({"name": "<Ann> & co\r\nBcc: spy@example.com"})
    assert subject == "Hi <Ann> & co  Bcc: spy@example.com"


def test_a_value_that_starts_a_link_cannot_bring_a_dangerous_scheme():
    template = EmailMessageTemplate.parse("s", '<a href="{{ link }}">{{ link }}</a><img src={{ pic }}>')
    _, body = template.render({"link": " JavaScript:alert(1)", "pic": "java\tscript:x"})
    assert body == '<a href=""> JavaScript:alert(1)</a><img src=>'
    _, body = template.render({"link": "https://go.gov.sg/a?b=1&c=2", "pic": "/relative.png"})
    assert body == ('<a href="https://go.gov.sg/a?b=1&amp;c=2">https://go.gov.sg/a?b=1&amp;c=2</a>'
                    "<img src=/relative.png>")


def test_the_recipient_key_and_missing_keys():
    template = EmailMessageTemplate.parse("To {{ recipient }}", "<p>{{ missing }}.</p>")
    assert template.render({"recipient": "a@b.sg"}) == ("To a@b.sg", "<p>.</p>")
    assert template.keys == ["recipient", "missing"]


def test_rendering_never_lets_a_values_markup_or_tags_through_unescaped():
    rng = random.Random(20240601)
    alphabet = string.ascii_letters + string.digits + "<>\"'&{} \n\r\t/=:;" + "äé中😀"
    template = EmailMessageTemplate.parse("{{ v }}", '<p title="{{ v }}">{{ v }}</p><a href="{{ v }}">{{v}}</a>')
    literal_parts = ['<p title="', '">', '</p><a href="', '">', "</a>"]
    for _ in range(2000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        _, body = template.render({"v": value})
        rendered_values = body
        for part in literal_parts:
            rendered_values = rendered_values.replace(part, "\x00", 1)
        for forbidden in ("<", ">", '"', "{{", "{"):
            assert forbidden not in rendered_values, (value, body)


def test_a_link_keys_http_value_in_text_becomes_a_link_to_itself_escaped():
    template = EmailMessageTemplate.parse("{{ form_url }}", "<p>Fill in {{ form_url }} or {{ Form_Link }}</p>")
    subject, body = template.render({"form_url": "https://form.gov.sg/a?b=1&c=\"2\"", "form_link": "HTTP://x.sg/<y>"})
    assert subject == 'https://form.gov.sg/a?b=1&c="2"'  # the subject is plain text
    assert body == ('<p>Fill in <a href="https://form.gov.sg/a?b=1&amp;c=&quot;2&quot;">'
                    'https://form.gov.sg/a?b=1&amp;c=&quot;2&quot;</a> or '
                    '<a href="HTTP://x.sg/&lt;y&gt;">HTTP://x.sg/&lt;y&gt;</a></p>')


@pytest.mark.parametrize("value", ["javascript:alert(1)", "mailto:a@b.sg", "www.example.gov.sg", "https://", " ",
                                   "ftp://x.sg/file", "<b>https://x.sg</b>"])
def test_a_link_keys_value_that_is_not_an_http_address_stays_escaped_text(value):
    _, body = EmailMessageTemplate.parse("s", "<p>{{ doc_link }}</p>").render({"doc_link": value})
    assert body == f"<p>{escape_html_value(value)}</p>" and "<a" not in body


def test_a_link_key_in_an_attribute_or_in_a_links_text_is_not_made_a_link_again():
    template = EmailMessageTemplate.parse(
        "s", '<a href="{{ doc_url }}" title="{{ doc_url }}">Open {{ doc_url }}</a> <img src="{{ pic_url }}" alt="">')
    _, body = template.render({"doc_url": "https://x.sg/a", "pic_url": "https://x.sg/p.png"})
    assert body == ('<a href="https://x.sg/a" title="https://x.sg/a">Open https://x.sg/a</a> '
                    '<img src="https://x.sg/p.png" alt="">')


def test_only_keys_ending_in_url_or_link_are_link_keys():
    template = EmailMessageTemplate.parse("s", "<p>{{ url }} {{ link }} {{ protectedlink }} {{ urls }} "
                                               "{{ my_link }}</p>")
    _, body = template.render({key: "https://x.sg" for key in ("url", "link", "protectedlink", "urls", "my_link")})
    assert body == '<p>https://x.sg https://x.sg https://x.sg https://x.sg <a href="https://x.sg">https://x.sg</a></p>'


def test_positions_follow_quotes_and_tags_across_the_template():
    template = EmailMessageTemplate.parse("s", '<p title="a > {{ x_url }}">{{ x_url }}</p><a href=\'{{ x_url }}\'>'
                                               '<b>{{ x_url }}</b></a>{{ x_url }}')
    _, body = template.render({"x_url": "https://x.sg"})
    link = '<a href="https://x.sg">https://x.sg</a>'
    assert body == (f'<p title="a > https://x.sg">{link}</p><a href=\'https://x.sg\'><b>https://x.sg</b></a>{link}')
