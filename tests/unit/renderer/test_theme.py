"""The theme every campaign email arrives in: compared exactly with golden files (tests/testdata/theme/), the agency's
name escaped wherever it stands, the logo only when shown, the preheader, and a text part that says what the HTML
says. ``UPDATE_GOLDEN=1`` rewrites the golden files from the code: read the diff before committing them."""

from __future__ import annotations

import os
import random
import string
from pathlib import Path

import pytest

from postman_renderer.email_template import EmailMessageTemplate
from postman_renderer.html_text import html_to_text
from postman_renderer.theme import (
    NO_LINK,
    OWN_LINK,
    PREHEADER_LENGTH,
    STAND_IN_LINK,
    EmailLook,
    ThemedEmail,
    preheader,
)

GOLDEN = Path(__file__).resolve().parents[2] / "testdata" / "theme"
AGENCY = '<Tan & Sons "Agency">'
LOGO = "https://www.example.gov.sg/logo.png?size=2&v=1"
SUBJECT = "Your appointment, {{ name }}"
BODY = ('<h1>Appointment</h1><p>Dear {{ name }},</p>'
        '<p>Your appointment is on <b>{{ appointment }}</b>. Book another at {{ booking_url }} or '
        '<a href="{{ booking_url }}" rel="noopener noreferrer">online</a>.</p>'
        '<ul><li>Bring {{ document }}</li><li>Arrive early</li></ul>'
        '<p>Questions: <a href="mailto:{{ recipient }}">{{ recipient }}</a><br>Thank you.</p>')
VALUES = {"name": "Ann <Tan> & co", "appointment": "1 Dec 2026, 10:00", "booking_url": "https://go.gov.sg/book?a=1&b=2",
          "document": "your letter", "recipient": "ann@example.com"}
UNSUBSCRIBE = "https://postman.example.gov.sg/unsubscribe/7/ann@example.com?v=v1&h=0a1b"


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs: UPDATE_GOLDEN=1 rewrites it"


def themed(look: EmailLook, unsubscribe: str = OWN_LINK, body: str = BODY) -> ThemedEmail:
    return ThemedEmail(EmailMessageTemplate.parse(SUBJECT, body), look, unsubscribe)


def test_a_government_agencys_email_with_its_logo_is_exactly_the_golden_one():
    email = themed(EmailLook.of(AGENCY, LOGO, masthead=True, show_logo=True)).render(VALUES, UNSUBSCRIBE)
    assert email.subject == "Your appointment, Ann <Tan> & co"
    golden("government_with_logo.html", email.html)
    golden("government_with_logo.txt", email.text)


def test_an_email_without_masthead_or_logo_and_with_a_stand_in_link_is_exactly_the_golden_one():
    email = themed(EmailLook.of("Town Council", LOGO, masthead=False, show_logo=False), STAND_IN_LINK)
    rendered = email.render(VALUES)
    golden("plain_preview.html", rendered.html)
    golden("plain_preview.txt", rendered.text)


def test_the_agency_name_is_escaped_everywhere_in_the_html_and_plain_in_the_text():
    email = themed(EmailLook.of(AGENCY, LOGO, masthead=True, show_logo=True)).render(VALUES, UNSUBSCRIBE)
    escaped = "&lt;Tan &amp; Sons &quot;Agency&quot;&gt;"
    assert AGENCY not in email.html and "<Tan" not in email.html and "Sons \"" not in email.html
    assert email.html.count(escaped) == 4  # title, the logo's alt, the footer's name and its genuine-email line
    assert f'alt="{escaped}"' in email.html and f"<title>{escaped}</title>" in email.html
    assert email.text.count(AGENCY) == 2


def test_the_logo_is_shown_only_when_the_template_wants_it_and_only_over_https():
    with_logo = themed(EmailLook.of(AGENCY, LOGO, True, show_logo=True)).render(VALUES).html
    assert '<img src="https://www.example.gov.sg/logo.png?size=2&amp;v=1"' in with_logo
    for look in (EmailLook.of(AGENCY, LOGO, True, show_logo=False), EmailLook.of(AGENCY, "", True, show_logo=True),
                 EmailLook.of(AGENCY, "http://insecure.example/logo.png", True, show_logo=True),
                 EmailLook.of(AGENCY, "javascript:alert(1)", True, show_logo=True)):
        assert look.logo_uri == "" and "<img" not in themed(look).render(VALUES).html


def test_the_masthead_is_for_government_senders_only():
    assert "Singapore Government agency" in themed(EmailLook(AGENCY, masthead=True)).render(VALUES).html
    plain = themed(EmailLook(AGENCY, masthead=False)).render(VALUES)
    assert "Singapore Government agency" not in plain.html + plain.text


def test_the_preheader_is_the_start_of_the_bodys_text_escaped_and_hidden():
    email = themed(EmailLook(AGENCY)).render(VALUES, UNSUBSCRIBE)
    hidden = email.html.split('mso-hide:all;">', 1)[1].split("&#847;", 1)[0]
    assert hidden == ("Appointment Dear Ann &lt;Tan&gt; &amp; co, Your appointment is on 1 Dec 2026, 10:00. Book "
                      "another at https://go.gov.sg/book?a=1&amp;b=2 or online")  # 131 characters, then "(https..."
    assert "Appointment" not in email.text.split("\n", 1)[1]  # said once in the text: the preheader is not in it


def test_a_preheader_is_cut_at_a_word_and_long_words_are_cut_at_the_limit():
    assert preheader("  Dear\n\n  Ann,   see you  ") == "Dear Ann, see you"
    long = " ".join(["word"] * 100)
    assert len(preheader(long)) <= PREHEADER_LENGTH and preheader(long).endswith("word")
    assert preheader("x" * 500) == "x" * PREHEADER_LENGTH


def test_no_unsubscribe_link_when_links_are_not_configured():
    email = themed(EmailLook(AGENCY), NO_LINK).render(VALUES, UNSUBSCRIBE)
    assert "unsubscribe" not in email.html.lower() and "unsubscribe" not in email.text.lower()


def test_each_recipient_gets_their_own_link_in_both_parts():
    email = themed(EmailLook(AGENCY))
    first, second = (email.render(VALUES, f"https://p.example/unsubscribe/1/{n}?v=v1&h=ab") for n in ("a", "b"))
    assert 'href="https://p.example/unsubscribe/1/a?v=v1&amp;h=ab"' in first.html
    assert first.text.endswith("unsubscribe (https://p.example/unsubscribe/1/a?v=v1&h=ab).\n")
    assert "/unsubscribe/1/a" not in second.html + second.text


def test_a_link_with_a_dangerous_scheme_is_left_out_of_the_text_as_of_the_html():
    email = themed(EmailLook(AGENCY), body='<p><a href="{{ go }}">Open</a> {{ go }}</p>').render(
        {"go": "javascript:alert(1)"})
    assert 'href=""' in email.html and "(javascript" not in email.text and "Open javascript:alert(1)" in email.text


ALPHABET = string.ascii_letters + string.digits + "<>\"'&{}/=:;.?#%" + "äé中😀"
TEMPLATES = [
    BODY,
    '<p title="{{ a }}">{{ a }} {{ b_link }}</p><a href="{{ b_link }}">{{ b_link }}</a><img src="{{ c_url }}" alt="">',
    "<table><tr><td>{{ a }}</td><td>{{ c_url }}</td></tr></table><pre>{{ a }}</pre>",
]


@pytest.mark.parametrize("body", TEMPLATES)
def test_the_text_part_says_what_the_html_says(body):
    """The text template made once per job gives what converting each recipient's HTML would, for values that are
    not empty and hold no white space (an empty value can leave a space HTML would collapse; harmless in text)."""
    rng = random.Random(20261204)
    email = themed(EmailLook.of(AGENCY, LOGO, True, True), body=body)
    for _ in range(300):
        values = {key: "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12)))
                  for key in ("name", "appointment", "document", "recipient", "a")}
        values.update({key: rng.choice(["https://x.gov.sg/" + values["a"], "http://y.sg/?q=" + values["a"],
                                        "javascript:" + values["a"], values["a"]])
                       for key in ("booking_url", "b_link", "c_url")})
        rendered = email.render(values, "https://p.example/u?v=1&h=2")
        assert rendered.text == html_to_text(rendered.html), values
