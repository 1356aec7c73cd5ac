"""The template language against hostile officers and hostile recipients (issue 13, "Known holes"):

* no template makes the renderer's work super-linear: the regular expression that found link addresses backtracked
  quadratically over a run of spaces (32,000 spaces took seconds, and the API takes 1 MiB), stalling previews and
  the renderer's send thread; the scan that replaced it is linear (``html_slots``), checked by a property-based fuzz
  test with a deadline per input and a count of the scanner's steps;
* adjacent tags in a link: in ``<a href="{{a}}{{b}}">`` the second value was only HTML-escaped, so ``a=""``,
  ``b="javascript:…"`` made a javascript: link; now every tag where a scheme can still be forming takes part in the
  check of the address the values make together, as a browser reads it;
* template sizes are capped per channel (``EMAIL_TEMPLATE_MAX_BYTES``, ``SMS_TEMPLATE_MAX_BYTES``,
  ``TELEGRAM_TEMPLATE_MAX_BYTES``) with a 400 naming the field and the limit.

Time budgets here are generous upper bounds (the linear code takes milliseconds), enforced with SIGALRM so that the
old, quadratic code fails the test instead of hanging the suite.
"""

from __future__ import annotations

import re
import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from postman.v1 import renderer_pb2
from postman_auth import api_keys
from postman_gateway.app import create_app
from postman_renderer import html_slots
from postman_renderer.email_template import EmailMessageTemplate, validate_email_template
from postman_renderer.grpc_api import RendererServicer
from postman_renderer.sms_template import SmsMessageTemplate, validate_sms_template
from postman_renderer.telegram_template import TelegramMessageTemplate, validate_telegram_template
from postman_renderer.template import TemplateError
from postman_renderer.theme import NO_LINK, EmailLook, ThemedEmail
from postman_shared.grpc.errors import ServiceError
from postman_shared.settings import Settings
from tests.integration.gateway.conftest import Caller
from tests.integration.web.conftest import (  # noqa: F401 - fixtures
    app,
    post_form,
    web_sign_in,
)
from tests.support.inprocess import running

MIB = 1024 * 1024
ALLOWED_SCHEMES = {"http", "https", "mailto", "tel"}


class OverBudget(AssertionError):
    pass


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Fails (interrupting the work: Python's ``re`` stops for signals) when the block runs longer than
    ``seconds``."""
    def stop(signum: int, frame: Any) -> None:
        raise OverBudget(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def render_everywhere(template: str) -> None:
    """Everything the renderer does with a template: check it (each channel), parse it and render it."""
    values = {"a": "x", "b": "javascript:alert(1)", "link_url": "https://x.sg", "name": "Ann"}
    try:  # as saved, then as sent: in its theme
        saved = validate_email_template("Hi {{ name }}", template)
        email = EmailMessageTemplate.parse(saved.subject, saved.body)
        email.render(values)
        ThemedEmail(email, EmailLook("Agency"), NO_LINK).render(values)
    except TemplateError:
        pass
    try:
        TelegramMessageTemplate.parse(validate_telegram_template(template).body).render(values)
    except TemplateError:
        pass
    try:
        validate_sms_template(template, 10)
    except TemplateError:
        pass
    try:  # and as written, unsanitised: the scan of where tags stand holds on any text
        EmailMessageTemplate.parse("Hi {{ name }}", template).render(values)
        TelegramMessageTemplate.parse(template).render(values)
        SmsMessageTemplate.parse(template).render(values)
    except TemplateError:
        pass


# -- the regular expression blow-up --------------------------------------------------------------------------------

def spaced_links(spaces: str) -> list[str]:
    """Templates where a link's ``=`` is followed by a long run of white space and then not the end of the text:
    what made the old pattern ``\\b(?:href|src)\\s*=\\s*["']?\\s*$`` backtrack quadratically."""
    return [
        f'<p><a href={spaces}x{{{{ a }}}}">link</a></p>',
        f"<p><img src ={spaces}y {{{{ a }}}}></p>",
        f'<a href{spaces}={spaces}"z{{{{ a }}}}">link</a>',
    ]


@pytest.mark.parametrize("template", spaced_links(" " * 32_000) + spaced_links("\t\n" * 16_000))
def test_32000_spaces_in_a_link_render_at_once(template):
    with budget(1.0):
        email = EmailMessageTemplate.parse("Hi", template)
        _, body = email.render({"a": "x"})
        ThemedEmail(email, EmailLook("Agency"), NO_LINK).render({"a": "x"})
        TelegramMessageTemplate.parse(template).render({"a": "x"})
    assert body == template.replace("{{ a }}", "x")


@pytest.mark.parametrize("template", spaced_links(" " * MIB))
def test_a_1_mib_template_renders_in_linear_time(template):
    with budget(20.0):
        render_everywhere(template)


def test_the_api_limit_itself_a_1_mib_template_of_spaces_is_checked_at_once():
    with budget(10.0):
        for template in spaced_links(" " * (MIB - 100)):
            render_everywhere(template)


class CountingScanner(html_slots._Scanner):
    """The scanner, counting its steps: a deterministic measure of its work."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def _step(self, text: str, i: int, n: int) -> int:
        self.steps += 1
        return super()._step(text, i, n)


_WHITE = st.sampled_from([" ", "\t", "\n", "\r", "\f", "\v", "\u00a0"])
_LENGTH = st.sampled_from([0, 1, 40, 45_000]) | st.integers(min_value=0, max_value=45_000)  # long runs are common
_SPACES = st.builds(lambda character, count: character * count, _WHITE, _LENGTH)
_RUN = st.builds(lambda character, count: character * count,
                 _WHITE | st.sampled_from(["a", "<", ">", "'", '"', "=", "{", "}", "-", "/", "&", "#", ":"]), _LENGTH)
_TOKEN = st.sampled_from([
    "{{ a }}", "{{b}}", "{{ link_url }}", "{{ name }}", "<a ", "<a href=", "<img src=", "href", "src", " href", "=",
    '"', "'", "<", ">", "</a>", "<p>", "</p>", "<!--", "-->", "<!", "<?", "</", "<br>", "<br/", "javascript:",
    "&#58;", "&amp;", "&colon;", " ", "x", "{{", "}}", "{{{", "<b>", "/", "<span class=", "tg-spoiler", "\n",
])
# An attribute with white space anywhere around its "=" and quote, then text and tags: the shapes that made the old
# pattern backtrack.
_ATTRIBUTE = st.builds(
    lambda tag, name, before, equals, after, quote, inside, end: f"{tag} {name}{before}{equals}{after}{quote}{inside}"
                                                                 f"{end}",
    st.sampled_from(["<a", "<img", "<p", "<span"]), st.sampled_from(["href", "src", "HREF", "title", "x"]),
    _SPACES, st.sampled_from(["=", "=", ""]), _SPACES, st.sampled_from(["", "", '"', "'"]), _SPACES,
    st.sampled_from(["x{{ a }}", "y {{ a }}{{ b }}", "z{{ a }}>", "x{{ a }}", "{{ a }}", ">", '">{{ link_url }}</a>']))
TEMPLATES = st.lists(st.one_of(_ATTRIBUTE, _TOKEN, _RUN, _ATTRIBUTE), max_size=12).map(
    lambda parts: "".join(parts)[:100_000])


@settings(deadline=2000, max_examples=60, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # a slow input is reported as found: shrinking it would be slow
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(TEMPLATES)
@example("<a " + " " * 100_000 + "{{ a }}>")  # a tag's white space
@example('<a href="' + "{{ a }}" * 14_000 + '">x</a>')  # many adjacent tags in one address
@example("<a " + "b=c " * 25_000 + "{{ a }}>")  # many attributes
@example("<a " * 33_000 + "{{ a }}")  # tags that never end
@example('<p title="' + "{{ a }}'" * 14_000 + '">x</p>')  # quotes of the other kind inside a value
def test_no_template_up_to_100_kb_takes_super_linear_work(template):
    """Fuzz: any mix of tags, attributes, quotes, angle brackets and long runs of white space is checked, parsed and
    rendered within the per-input deadline (2 s for ≤ 100 KB), and the scan of where its tags stand takes a number
    of steps proportional to its length."""
    render_everywhere(template)
    try:
        parsed = EmailMessageTemplate.parse("s", template).body
    except TemplateError:
        return
    scanner = CountingScanner()
    for index, literal in enumerate(parsed.literals):
        scanner.feed(literal)
        if index < len(parsed.literals) - 1:
            scanner.slot(index)
    assert scanner.steps <= 2 * len(template) + 2 * len(parsed.literals)


# -- adjacent tags in a link ---------------------------------------------------------------------------------------

class _Addresses(HTMLParser):
    """Every href and src of an HTML document, decoded as a browser decodes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.addresses: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.addresses += [value or "" for name, value in attrs if name in ("href", "src")]


def addresses(document: str) -> list[str]:
    parser = _Addresses()
    parser.feed(document)
    parser.close()
    return parser.addresses


def browser_scheme(address: str) -> str | None:
    """The scheme the WHATWG URL parser reads: C0 controls and spaces stripped from both ends, tabs and newlines
    removed anywhere, then letters, digits, "+", "-" and "." up to a ":"."""
    address = re.sub(r"[\t\n\r]", "", address.strip("".join(map(chr, range(0x21)))))
    found = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", address)
    return found.group(1).lower() if found else None


def assert_no_dangerous_link(document: str) -> None:
    for address in addresses(document):
        assert browser_scheme(address) in (None, *ALLOWED_SCHEMES), (address, document)


def email_body(body: str, values: dict[str, str]) -> str:
    validated = validate_email_template("s", body)  # as saved: sanitised
    template = EmailMessageTemplate.parse(validated.subject, validated.body)
    _, rendered = template.render(values)
    themed = ThemedEmail(template, EmailLook("Agency"), NO_LINK).render(values)
    assert_no_dangerous_link(themed.html)
    assert "javascript:" not in themed.text.lower()
    return rendered


def telegram_body(body: str, values: dict[str, str]) -> str:
    return TelegramMessageTemplate.parse(validate_telegram_template(body).body).render(values)


@pytest.mark.parametrize("render", [email_body, telegram_body], ids=["email", "telegram"])
@pytest.mark.parametrize("body", [
    '<a href="{{a}}{{b}}">Open</a>',  # the exact case of the issue
    '<a href="{{a}} {{b}}">Open</a>',
    "<a href='{{a}}{{b}}'>Open</a>",
    "<a href={{a}}{{b}}>Open</a>",  # unquoted
    '<a href=" {{ a }}\n{{ b }} ">Open</a>',
])
@pytest.mark.parametrize("values", [
    {"a": "", "b": "javascript:alert(1)"},
    {"a": " ", "b": "JavaScript:alert(1)"},
    {"a": "java", "b": "script:alert(1)"},  # a scheme made of two values
    {"a": "javascript", "b": ":alert(1)"},
    {"a": "\x01", "b": "javascript:alert(1)"},
])
def test_a_second_tag_in_a_link_cannot_bring_a_javascript_link(render, body, values):
    rendered = render(body, values)
    assert "alert" not in rendered.lower(), rendered
    assert_no_dangerous_link(rendered)


def test_an_image_made_of_two_tags_cannot_load_a_javascript_address():
    rendered = email_body('<img src="{{a}}{{b}}" alt="">', {"a": "", "b": "javascript:alert(1)"})
    assert "alert" not in rendered and addresses(rendered) == [""]


@pytest.mark.parametrize("render", [email_body, telegram_body], ids=["email", "telegram"])
def test_the_letters_around_tags_cannot_complete_a_scheme_either(render):
    rendered = render('<a href="{{a}}script{{b}}">Open</a>', {"a": "java", "b": ":alert(1)"})
    assert "alert" not in rendered and browser_scheme(addresses(rendered)[0]) is None


@pytest.mark.parametrize("render", [email_body, telegram_body], ids=["email", "telegram"])
def test_adjacent_tags_make_an_ordinary_link_but_not_a_javascript_one(render):
    template = '<a href="{{a}}{{b}}">Open</a>'
    assert addresses(render(template, {"a": "https://go.gov.sg", "b": "/form?x=1&y=2"})) == [
        "https://go.gov.sg/form?x=1&y=2"]
    assert addresses(render(template, {"a": "", "b": "mailto:help@agency.gov.sg"})) == ["mailto:help@agency.gov.sg"]
    assert addresses(render(template, {"a": "", "b": "javascript:alert(1)"})) == [""]


_PIECES = st.sampled_from(["{{a}}", "{{b}}", "{{c}}", " ", "\n", "\t", "java", "script", ":", "&#58;", "&colon;",
                           "x", "/", "h", "ttp", "s", ".", "-", "+", "1", "&amp;", "#"])
_VALUES = st.sampled_from(["", " ", "\x01", "\t", "java", "script", "javascript", ":", "script:alert(1)",
                           "javascript:alert(1)", "JAVASCRIPT:x", "vbscript:x", "data:text/html,x", "&#58;",
                           "https://x.sg", "/p", "s:x", "#", "alert(1)", "ja\nva", "58;"])


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=8).map("".join), st.sampled_from(['"', "'"]),
       st.fixed_dictionaries({"a": _VALUES, "b": _VALUES, "c": _VALUES}))
def test_no_values_make_a_link_with_a_scheme_that_is_not_allowed(address, quote, values):
    """Property: whatever the template's address is made of (tags, white space, letters, character references) and
    whatever the values, every href the renderer writes has no scheme or http, https, mailto or tel."""
    body = f"<p><a href={quote}{address}{quote}>Open</a> <img src={quote}{address}{quote} alt=x></p>"
    for render in (email_body, telegram_body):
        try:
            rendered = render(body, values)
        except TemplateError:
            continue
        assert_no_dangerous_link(rendered)


# -- template sizes per channel ------------------------------------------------------------------------------------

LIMITS = {"email_template_max_bytes": 4000, "sms_template_max_bytes": 1000, "telegram_template_max_bytes": 2000}


class _Looks:
    def look(self, user_id: int, show_logo: bool) -> EmailLook:
        return EmailLook("Agency")


def test_the_renderer_refuses_a_template_larger_than_its_channel_allows_before_any_work():
    servicer = RendererServicer(replace(Settings(), **LIMITS), looks=_Looks())
    cases = [
        ("EMAIL", "Hi", "<p>" + "x" * 4000 + "</p>", "Body: the body is 4,007 bytes long; an email template may be "
                                                     "at most 4,000 bytes"),
        ("EMAIL", "é" * 2001, "<p>x</p>", "Subject: the subject is 4,002 bytes long; an email template may be at "
                                          "most 4,000 bytes"),
        ("SMS", "", "x" * 1001, "Body: the body is 1,001 bytes long; an SMS template may be at most 1,000 bytes"),
        ("TELEGRAM", "", "<b>" + "x" * 2000 + "</b>", "Body: the body is 2,007 bytes long; a Telegram template may "
                                                      "be at most 2,000 bytes"),
    ]
    for channel, subject, body, message in cases:
        with pytest.raises(ServiceError) as refused:
            servicer.ValidateTemplate(renderer_pb2.ValidateTemplateRequest(channel=channel, subject=subject,
                                                                           body=body), None)
        assert (refused.value.code, refused.value.message) == ("invalid_template", message)
    # At the limit, in bytes (é is two), it is checked as usual.
    fits = servicer.ValidateTemplate(renderer_pb2.ValidateTemplateRequest(
        channel="EMAIL", subject="é" * 2000, body="<p>" + "x" * 3993 + "</p>"), None)
    assert fits.body == "<p>" + "x" * 3993 + "</p>"


@pytest.fixture
def settings(settings):
    """The suite's settings with small template limits (the gateway app of the web fixtures uses them too)."""
    return replace(settings, **LIMITS)


@pytest.fixture
def small_limits(settings):
    with running(settings, "auth", "campaign", "renderer", "stats"):
        yield settings


@pytest.fixture
def caller(database) -> Caller:
    with database.unit_of_work() as session:
        user = api_keys.get_or_create_user(session, f"officer-{secrets.token_hex(4)}@agency.gov.sg")
        return Caller(user.id, api_keys.create_api_key(session, user, label="test"), user.email)


def new_campaign(http, caller: Caller, channel: str) -> int:
    created = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Limits", "type": channel})
    assert created.status_code == 201, created.json
    return int(created.json["id"])


def test_saving_a_template_larger_than_its_channel_allows_is_a_400_naming_the_field_and_the_limit(small_limits,
                                                                                                  caller):
    http = create_app(small_limits).test_client()
    email = new_campaign(http, caller, "EMAIL")
    template = {"subject": "Hi {{ name }}", "body": "<p>" + "x" * 4000 + "</p>", "reply_to": None,
                "from": "Postman <donotreply@mail.postman.gov.sg>"}
    refused = http.put(f"/v1/campaign/{email}/email/template", headers=caller.headers, json=template)
    assert (refused.status_code, refused.json["code"]) == (400, "api_validation"), refused.json
    assert refused.json["message"] == '"body" is 4,007 bytes long; an email template may be at most 4,000 bytes'
    refused = http.put(f"/v1/campaign/{email}/email/template", headers=caller.headers,
                       json={**template, "subject": "é" * 2001, "body": "<p>x</p>"})
    assert (refused.status_code, refused.json["message"]) == (
        400, '"subject" is 4,002 bytes long; an email template may be at most 4,000 bytes')
    saved = http.put(f"/v1/campaign/{email}/email/template", headers=caller.headers,
                     json={**template, "body": "<p>" + "x" * 3993 + "</p>"})
    assert saved.status_code == 200, saved.json

    sms = new_campaign(http, caller, "SMS")
    refused = http.put(f"/v1/campaign/{sms}/sms/template", headers=caller.headers,
                       json={"body": "Hi" + " " * 1000 + "{{ name }}"})
    assert (refused.status_code, refused.json["code"], refused.json["message"]) == (
        400, "api_validation", '"body" is 1,012 bytes long; an SMS template may be at most 1,000 bytes')

    telegram = new_campaign(http, caller, "TELEGRAM")
    refused = http.put(f"/v1/campaign/{telegram}/telegram/template", headers=caller.headers,
                       json={"body": "<b>" + "x" * 2000 + "</b>"})
    assert (refused.status_code, refused.json["code"], refused.json["message"]) == (
        400, "api_validation", '"body" is 2,007 bytes long; a Telegram template may be at most 2,000 bytes')


def test_the_limits_are_settings_read_from_the_environment():
    read = Settings.from_env({"EMAIL_TEMPLATE_MAX_BYTES": "1000", "SMS_TEMPLATE_MAX_BYTES": "200",
                              "TELEGRAM_TEMPLATE_MAX_BYTES": "300"})
    assert (read.email_template_max_bytes, read.sms_template_max_bytes, read.telegram_template_max_bytes) == (
        1000, 200, 300)


def test_the_template_editor_shows_a_too_large_field_on_that_field_with_the_limit(
        small_limits, web_sign_in):  # noqa: F811 - the imported fixture
    officer = web_sign_in()
    created = post_form(officer.client, "/campaigns/new", name="Limits", channel="EMAIL")
    assert created.status_code == 303, created.get_data(as_text=True)
    editor = created.headers["Location"]
    template = {"subject": "Hi {{ name }}", "body": "<p>Dear {{ name }}</p>",
                "from": "Postman <donotreply@mail.postman.gov.sg>", "reply_to": ""}
    saved = post_form(officer.client, editor, intent="save", **{**template, "subject": "é" * 2001})
    assert saved.status_code == 400
    assert error_summary(saved.get_data(as_text=True)) == [
        ("subject", "&#34;subject&#34; is 4,002 bytes long; an email template may be at most 4,000 bytes")]
    previewed = post_form(officer.client, editor, intent="preview", **{**template, "body": "<p>" + "x" * 4000 + "</p>"})
    assert previewed.status_code == 400
    assert error_summary(previewed.get_data(as_text=True)) == [
        ("body", "Body: the body is 4,007 bytes long; an email template may be at most 4,000 bytes")]


def error_summary(page: str) -> list[tuple[str, str]]:
    """(link target, message) of each entry of the page's error summary."""
    summary = re.search(r'<div class="error-summary".*?</ul>', page, re.DOTALL)
    assert summary, "no error summary on the page"
    return re.findall(r'<li><a href="#([^"]+)">(.*?)</a></li>', summary.group(0), re.DOTALL)
