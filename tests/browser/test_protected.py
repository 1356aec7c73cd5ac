"""Password-protected email in a real browser.

The recipient's page (``/p/<version>/<id>``) opens Postman's version 1 messages, made by Node's WebCrypto exactly as
Postman's frontend makes them (tests/testdata/protected/vectors.json) and uploaded through the API's multipart
protect upload: a wrong password is said on the form, the right one shows the message; too many wrong ones lock it
and the page says for how long; an expired message says so, with no form.

The officer's journey: a password-protected email campaign made in the pages, its recipients file (recipient,
password, name) and the message behind the link checked in the browser (a bad line is named and nothing is
uploaded), encrypted in the browser (version 2, Web Workers) with a progress bar, a decrypted sample shown, and only
the encrypted file posted; then sent, and each recipient's link from the outbox opens their own message with their
password, and only with it.

Large files: a 100,000-row file is checked whole (in 64 KB parse chunks) before any row is encrypted, so bad lines
near its end are named at once; a file of several chunks is encrypted whole, with its progress; while the workers
are behind, the file's second reading pauses.

Every page passes ``check_page`` (axe-core, no CSP violation, no script error).
"""

from __future__ import annotations

import csv
import email.message
import io
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, Route, expect
from sqlalchemy import delete, update

from postman_auth import api_keys
from postman_campaign.models import ProtectedMessage, ProtectedMessageAttempt
from postman_campaign.protected_messages import expire_messages
from postman_shared import protected_format
from postman_shared.db import Database
from tests.browser.conftest import new_context
from tests.browser.journeys import campaign_email, click_below_frame, sign_in, wait_until_sent, write_html_message
from tests.browser.page_checks import check_page, watch_of
from tests.conftest import TESTDATA
from tests.support.api_client import PostmanApi
from tests.support.processes import RunningSystem

pytestmark = pytest.mark.e2e

PROTECTED = TESTDATA / "protected"
VECTORS: list[dict[str, Any]] = json.loads((PROTECTED / "vectors.json").read_text(encoding="utf-8"))
POSTMAN_FILE = (PROTECTED / "postman_protected_upload.csv").read_bytes()
V2_HEADER = "recipient,payload,accesshash,id,salt,iterations"
LINK = re.compile(r"/p/(\d)/([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})")
WRONG_PASSWORD = "That password does not open this message"

# The officer's file: each row's password opens its own message, which names that row's person.
PEOPLE = [
    {"recipient": f"ann.{secrets.token_hex(3)}@example.gov.sg", "password": "S1234567D01011980", "name": "Ann Tan"},
    {"recipient": f"bala.{secrets.token_hex(3)}@example.gov.sg", "password": "T0123456A150790", "name": "Bala Raj"},
    {"recipient": f"chen.{secrets.token_hex(3)}@example.gov.sg", "password": "pässwörd 🔐 3", "name": "Chen Wei"},
]
BEHIND_THE_LINK = "<p>Dear {{ Name }},</p><p>Your test result is <b>negative</b>.</p>"


def csv_text(rows: list[dict[str, str]], header: str = "recipient,password,name") -> str:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n ') else value
    return header + "\n" + "".join(",".join(cell(row[key.lower()]) for key in header.split(",")) + "\n" for row in rows)


def api_for(database: Database, system: RunningSystem, address: str) -> PostmanApi:
    with database.unit_of_work() as session:
        key = api_keys.create_api_key(session, api_keys.get_or_create_user(session, address), "protected e2e")
    return PostmanApi(system.gateway_url, key)


def free_the_vectors(database: Database) -> None:
    """The vectors' ids are bound to their ciphertext (v1's salt is the id) and an id belongs to one campaign:
    another run in this database may hold them."""
    ids = [vector["id"] for vector in VECTORS]
    with database.unit_of_work() as session:
        session.execute(delete(ProtectedMessage).where(ProtectedMessage.id.in_(ids)))
        session.execute(delete(ProtectedMessageAttempt).where(ProtectedMessageAttempt.message_id.in_(ids)))


def protect_upload(api: PostmanApi, campaign_id: int, content: bytes, filename: str) -> dict[str, Any]:
    """Postman's protect upload, as an integration drives it: start, PUT the one part, complete with its ETag."""
    base = f"/v1/campaign/{campaign_id}/email/protect/upload"
    started = api.call("GET", f"{base}/start", params={"mime_type": "text/csv", "part_count": 1})
    put = requests.put(started["presigned_urls"][0], data=content, headers={"Content-Type": "text/csv"}, timeout=60)
    assert put.status_code == 200, put.text
    api.call("POST", f"{base}/complete", expected=202, json={
        "filename": filename, "transaction_id": started["transaction_id"], "part_count": 1,
        "etags": [put.headers["ETag"]]})
    return api.wait_for_upload(campaign_id, timeout=60)


def open_with(page: Page, password: str) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Open the message").click()


def expect_wrong_password(page: Page, message: str = WRONG_PASSWORD) -> None:
    expect(page.locator("#password-error")).to_contain_text(message)
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#message-opened")).to_be_hidden()
    expect(page.get_by_role("button", name="Open the message")).to_be_enabled()


def test_the_recipients_page_opens_postman_v1_messages_with_the_right_password_only(
        page: Page, system: RunningSystem, database: Database, officer_email: str):
    free_the_vectors(database)
    api = api_for(database, system, officer_email)
    created = api.call("POST", "/v1/campaigns", expected=201,
                       json={"name": "Test results", "type": "EMAIL", "protect": True})
    campaign_id = int(created["id"])
    api.set_template(campaign_id, "Your test result", "<p>Open it: {{protectedlink}}</p>")
    status = protect_upload(api, campaign_id, POSTMAN_FILE, "postman_protected_upload.csv")
    assert not status.get("csv_error") and status["num_recipients"] == 3, status

    # The password the proof is made from never leaves the browser: only the proof is posted, without cookies.
    posted: list[Request] = []
    page.on("request", lambda request: posted.append(request) if request.method == "POST" else None)
    first = VECTORS[0]
    page.goto(f"/p/1/{first['id']}")
    expect(page.get_by_role("heading", name="A password-protected message")).to_be_visible()
    assert (page.locator('meta[name="robots"]').get_attribute("content") or "").startswith("noindex")
    check_page(page, "protected-message")

    open_with(page, VECTORS[1]["password"])  # another recipient's password
    expect_wrong_password(page)
    check_page(page, "protected-message-wrong-password")

    open_with(page, first["password"])
    body = page.locator("#message-body")
    expect(body).to_contain_text("Your test result is negative.")
    expect(body.locator("b")).to_have_text("negative")
    expect(page.locator("#message-locked")).to_be_hidden()
    check_page(page, "protected-message-open")
    assert [request.url.split(system.gateway_url)[-1] for request in posted] == [f"/v1/protect/{first['id']}"] * 2
    for request in posted:
        assert set(request.post_data_json or {}) == {"password_hash"}
        assert "cookie" not in {name.lower() for name in request.all_headers()}
        sent = request.post_data or ""
        assert VECTORS[1]["password"] not in sent and first["password"] not in sent
    assert posted[1].post_data_json == {"password_hash": first["passwordhash"]}

    # Unicode passwords and messages, as Node made them.
    third = VECTORS[2]
    page.goto(f"/p/1/{third['id']}")
    open_with(page, third["password"])
    expect(page.locator("#message-body")).to_have_text("Unicode: 你好, Ünïcödé, emoji 🎉")

    # Too many wrong passwords lock the message; the page says for how long, with the server's own words.
    locked = VECTORS[1]
    page.goto(f"/p/1/{locked['id']}")
    answer: dict[str, Any] = {}
    for attempt in range(30):
        with page.expect_response(f"**/v1/protect/{locked['id']}") as response:
            open_with(page, f"not the password {attempt}")
        if response.value.status == 429:
            answer = response.value.json()
            break
        expect_wrong_password(page)
    assert answer.get("code") == "message_locked", answer
    minutes = -(-int(response.value.headers["retry-after"]) // 60)
    expect_wrong_password(page, f"Too many wrong passwords: try again in {minutes} minute")
    expect(page.locator("#password-error-detail")).to_have_text(answer["message"])
    check_page(page, "protected-message-locked")

    # Expiry: a page already open says so when the password is tried; a page opened after says so at once.
    page.goto(f"/p/1/{third['id']}")
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    with database.unit_of_work() as session:
        session.execute(update(ProtectedMessage).where(ProtectedMessage.id == third["id"])
                        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    expire_messages(database)
    open_with(page, third["password"])
    expect(page.get_by_role("heading", name="This message has expired")).to_be_visible()
    expect(page.locator("#open-form")).to_be_hidden()
    page.goto(f"/p/1/{third['id']}")
    expect(page.get_by_role("heading", name="This message has expired")).to_be_visible()
    expect(page.get_by_text("ask the sender")).to_be_visible()
    assert page.locator("form#open-form").count() == 0 and page.get_by_label("Password", exact=True).count() == 0
    check_page(page, "protected-message-expired")


def email_links(message: email.message.Message) -> list[tuple[str, str]]:
    bodies = [part.get_payload(decode=True) for part in message.walk() if not part.is_multipart()]
    text = "\n".join(body.decode("utf-8", "replace") for body in bodies if isinstance(body, bytes))
    return sorted(set(LINK.findall(text)))


def test_an_officer_encrypts_a_protected_campaign_in_the_browser_and_each_recipient_opens_their_own(
        page: Page, system: RunningSystem, outbox: Path, officer_email: str, tmp_path: Path):
    sign_in(page, officer_email, outbox)

    # A new email campaign, password-protected; its email carries the link.
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Test results")
    page.get_by_role("radio", name="Email", exact=True).check()
    page.get_by_label("Password-protected").check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Write the message")).to_be_visible()
    found = re.search(r"/campaigns/(\d+)/template", page.url)
    assert found, page.url
    campaign_id = int(found.group(1))
    page.get_by_label("Subject").fill("Your test result")
    write_html_message(page, '<p>Dear {{recipient}}, <a href="{{protectedlink}}">open your result</a>.</p>')
    page.get_by_role("button", name="Save and continue").click()

    # The recipients step: it says what it needs; the file and the message are never posted as they are.
    expect(page.get_by_role("heading", name="Upload the recipients")).to_be_visible()
    file_input = page.get_by_label("Recipient file with passwords")
    message_input = page.get_by_label("The message behind the link")
    assert file_input.get_attribute("name") is None and message_input.get_attribute("name") is None
    check_page(page, "protected-recipients")
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)

    # A bad file: line 3 (the header is line 1) has no password; it is named and nothing is uploaded.
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text([PEOPLE[0], {**PEOPLE[1], "password": ""}, PEOPLE[2]]), encoding="utf-8")
    message_input.fill(BEHIND_THE_LINK)
    file_input.set_input_files(bad)
    page.get_by_role("button", name="Encrypt and upload").click()
    summary = page.locator("#protect-errors")
    expect(summary).to_contain_text("line 3: the password is empty")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("listitem")).to_have_count(1)
    expect(page.locator("#file-error")).to_contain_text("line 3")
    check_page(page, "protected-recipients-bad-file")
    assert posts == [], "a bad file was uploaded"
    expect(page.locator("#upload-done")).to_have_count(0)

    # {{password}} is refused in the message.
    message_input.fill("<p>Your password is {{password}}</p>")
    page.get_by_role("button", name="Encrypt and upload").click()
    expect(page.locator("#protected-message-error")).to_contain_text("{{password}}")
    assert posts == []

    # The good file: encrypted here, a sample decrypted again and shown; nothing is posted until the officer has
    # looked at it and chosen to upload; then the encrypted file alone is posted.
    good = tmp_path / "results.csv"
    good.write_text(csv_text(PEOPLE, header="Recipient,Password,Name"), encoding="utf-8")
    message_input.fill(BEHIND_THE_LINK)
    file_input.set_input_files(good)
    held: list[Route] = []
    page.route(f"**/campaigns/{campaign_id}/recipients",
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    page.get_by_role("button", name="Encrypt and upload").click()
    expect(page.locator("#protect-progress-group")).to_be_visible()
    expect(page.locator("#protect-count")).to_have_text(re.compile(r"\d of 3 messages encrypted"))
    sample = page.get_by_role("region", name="A decrypted sample")
    expect(sample).to_be_visible(timeout=120_000)
    expect(page.locator("#protect-count")).to_have_text("3 of 3 messages encrypted")
    expect(sample.locator("#protect-sample-recipient")).to_have_text(PEOPLE[0]["recipient"])
    expect(sample.locator("#protect-sample-body")).to_contain_text("Dear Ann Tan,")
    expect(sample.locator("#protect-sample-body b")).to_have_text("negative")
    expect(page.locator("#protect-sample-removed")).to_be_hidden()
    confirm = sample.get_by_role("button", name="Upload the encrypted file")
    expect(confirm).to_be_focused()
    check_page(page, "protected-recipients-sample")
    page.wait_for_timeout(500)
    assert held == [], "the file was posted before the officer looked at the sample"
    confirm.click()
    for _ in range(300):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the encrypted file was not posted"

    upload = held[0].request
    assert upload.headers.get("x-requested-with") == "XMLHttpRequest"
    posted = upload.post_data_buffer or b""
    for person in PEOPLE:
        assert person["password"].encode() not in posted and person["name"].encode() not in posted
    assert b"Dear" not in posted and b"negative" not in posted
    assert V2_HEADER.encode() + b"\r\n" in posted, "the posted file is not the version 2 file"
    fields = re.findall(rb'; name="([^"]+)"', posted)
    assert len(fields) == 2 and b"file" in fields, fields  # the CSRF token and the encrypted file, nothing else
    held[0].continue_()

    expect(page.locator("#recipient-counts")).to_contain_text("3 recipients, of which 0 are not valid",
                                                              timeout=60_000)
    expect(page.locator("#upload-done")).to_contain_text("results.csv")
    check_page(page, "protected-recipients-done")
    page.unroute(f"**/campaigns/{campaign_id}/recipients")

    # Review and send, as any email campaign.
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Review and send")).to_be_visible()
    check_page(page, "protected-review")
    click_below_frame(page.get_by_role("button", name="Send campaign"))  # below the email's frame
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}$"))
    wait_until_sent(page)
    expect(page.locator("#count-sent")).to_have_text("3")

    # Each email links to its recipient's own message (version 2); it opens with that row's password only.
    links = {person["recipient"]: email_links(campaign_email(outbox, campaign_id, person["recipient"]))
             for person in PEOPLE}
    assert all(len(found) == 1 and found[0][0] == "2" for found in links.values()), links
    assert len({found[0][1] for found in links.values()}) == 3
    for index in (1, 0):
        person = PEOPLE[index]
        other = PEOPLE[(index + 1) % 3]
        page.goto(f"/p/2/{links[person['recipient']][0][1]}")
        expect(page.get_by_role("heading", name="A password-protected message")).to_be_visible()
        if index == 1:
            check_page(page, "protected-message-v2")
        open_with(page, other["password"])
        expect_wrong_password(page)
        open_with(page, person["password"])
        body = page.locator("#message-body")
        expect(body).to_contain_text(f"Dear {person['name']},")
        expect(body).to_contain_text("Your test result is negative.")
        for someone in PEOPLE:
            if someone is not person:
                expect(body).not_to_contain_text(someone["name"])
        if index == 1:
            check_page(page, "protected-message-v2-open")


def test_the_browser_library_and_the_python_reference_make_and_open_the_same_bytes(page: Page):
    """protect-crypto.js (WebCrypto, in Chromium) against protected_format.py and the Node-made vectors."""
    page.goto(f"/p/2/{uuid.uuid4()}")  # a page that loads the library
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    opened = page.evaluate("""async (vectors) => Promise.all(vectors.map(async (v) => {
        const unlocked = await PostmanProtect.unlock(1, v.password, v.id, {iterations: v.iterations});
        return {proof: unlocked.proof, message: await unlocked.open(v.payload)};
    }))""", VECTORS)
    assert opened == [{"proof": v["passwordhash"], "message": v["message"]} for v in VECTORS]

    message, password, message_id = "<p>Dear Chen Wei, 你好 🎉</p>", "pässwörd 🔐 3", str(uuid.uuid4())
    salt, iv = bytes(range(16)), bytes(range(100, 112))
    expected, _ = protected_format.v2_seal(message, password, message_id, salt=salt, iv=iv, iterations=1000)
    made = page.evaluate("""async ([message, password, id, salt, iv]) => {
        const fixed = await PostmanProtect.v2Seal(message, password, id, {
            salt: PostmanProtect.fromBase64(salt), iv: PostmanProtect.fromBase64(iv), iterations: 1000});
        const random = await PostmanProtect.v2Seal(message, password, id);
        const proof = await PostmanProtect.v2Proof(password, id, random.salt, random.iterations);
        let wrong = null;
        try { await PostmanProtect.v2Open(random.payload, password + "x", id, random.salt, random.iterations); }
        catch (error) { wrong = error.message; }
        return {fixed, random, proof, wrong};
    }""", [message, password, message_id, protected_format.b64(salt), protected_format.b64(iv)])
    assert made["fixed"] == {"payload": expected.payload, "accesshash": expected.check,
                             "salt": protected_format.b64(salt), "iterations": 1000}
    random = made["random"]
    assert random["iterations"] == protected_format.V2_ITERATIONS and random["salt"] != made["fixed"]["salt"]
    assert protected_format.v2_open(random["payload"], password, message_id, protected_format.unb64(random["salt"]),
                                    random["iterations"]) == message
    assert protected_format.proof_matches(2, random["accesshash"], made["proof"])
    assert made["wrong"] == "the password does not open this message"

    python_made, python_salt = protected_format.v2_seal(message, password, message_id, iterations=1000)
    assert page.evaluate("""([payload, password, id, salt]) =>
        PostmanProtect.v2Open(payload, password, id, salt, 1000)""",
        [python_made.payload, password, message_id, protected_format.b64(python_salt)]) == message


def test_without_javascript_both_pages_say_that_they_need_it(browser: Browser, system: RunningSystem, outbox: Path,
                                                            officer_email: str):
    context = new_context(browser, system, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, officer_email, outbox)  # plain forms
        page.goto("/campaigns/new")
        page.get_by_label("Campaign name").fill("Without scripts")
        page.get_by_role("radio", name="Email", exact=True).check()
        page.get_by_label("Password-protected").check()
        page.get_by_role("button", name="Create campaign").click()
        page.get_by_label("Subject").fill("Your result")
        page.get_by_label("Message").fill('<p><a href="{{protectedlink}}">Open</a></p>')
        page.get_by_role("button", name="Save and continue").click()
        expect(page.get_by_role("heading", name="This step needs JavaScript")).to_be_visible()
        expect(page.locator("#protect-form")).to_be_hidden()
        check_page(page, "protected-recipients-without-scripts")

        page.goto(f"/p/2/{uuid.uuid4()}")  # an id nobody has: the page cannot tell
        expect(page.get_by_role("heading", name="Opening this message needs JavaScript")).to_be_visible()
        expect(page.locator("#open-form")).to_be_hidden()
        check_page(page, "protected-message-without-scripts")
        problems = watch_of(page).problems()
        assert not problems, "\n".join(problems)
    finally:
        context.close()



def new_protected_campaign(page: Page, name: str) -> int:
    """A password-protected email campaign made in the pages, left on its recipients step; its id."""
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill(name)
    page.get_by_role("radio", name="Email", exact=True).check()
    page.get_by_label("Password-protected").check()
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Write the message")).to_be_visible()
    found = re.search(r"/campaigns/(\d+)/template", page.url)
    assert found, page.url
    page.get_by_label("Subject").fill("Your result")
    write_html_message(page, '<p><a href="{{protectedlink}}">Open your result</a>.</p>')
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Upload the recipients")).to_be_visible()
    return int(found.group(1))


# Records, in the page, each phase the progress group names and the bar's value each time its counts change.
RECORD_PROGRESS = """() => {
    window.seenProgress = {phases: [], values: []};
    const phase = document.getElementById("protect-phase");
    const bar = document.getElementById("protect-progress");
    new MutationObserver(() => {
        const text = phase.textContent;
        const phases = window.seenProgress.phases;
        if (text && phases[phases.length - 1] !== text) { phases.push(text); }
    }).observe(phase, {childList: true, characterData: true, subtree: true});
    new MutationObserver(() => {
        window.seenProgress.values.push(bar.hasAttribute("value") ? bar.value : null);
    }).observe(document.getElementById("protect-count"), {childList: true, characterData: true, subtree: true});
}"""


def posted_csv(request: Request) -> list[dict[str, str]]:
    """The rows of the file posted in the form's field "file" (multipart/form-data)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    form = email.message_from_bytes(head + (request.post_data_buffer or b""))
    files = [part for part in form.walk() if part.get_param("name", header="content-disposition") == "file"]
    assert len(files) == 1, [part.get("content-disposition") for part in form.walk()]
    payload = files[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return list(csv.DictReader(io.StringIO(payload.decode("utf-8"), newline="")))


def test_a_large_file_is_checked_whole_before_any_encryption_and_its_late_bad_lines_are_named(
        page: Page, outbox: Path, officer_email: str, tmp_path: Path):
    """100,000 rows (about 70 parse chunks): line 99,000 has no password and line 99,500 no address. Both are named
    after a quick check of the whole file, before a single row is encrypted (no Web Worker starts), and nothing is
    uploaded."""
    sign_in(page, officer_email, outbox)
    new_protected_campaign(page, "A large file")
    rows, bad_password, bad_recipient = 100_000, 99_000, 99_500
    lines = ["recipient,password,name"]
    for line in range(2, rows + 2):
        recipient = "" if line == bad_recipient else f"person.{line}@example.gov.sg"
        password = "" if line == bad_password else f"S{line:07d}A{line % 97:02d}"
        lines.append(f"{recipient},{password},Person {line}")
    large = tmp_path / "large.csv"
    large.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert large.stat().st_size > 60 * 64 * 1024

    workers: list[Any] = []
    page.on("worker", lambda worker: workers.append(worker))
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    page.evaluate(RECORD_PROGRESS)
    page.get_by_label("The message behind the link").fill(BEHIND_THE_LINK)
    page.get_by_label("Recipient file with passwords").set_input_files(large)
    started = time.monotonic()
    page.get_by_role("button", name="Encrypt and upload").click()
    summary = page.locator("#protect-errors")
    expect(summary).to_be_visible(timeout=60_000)
    elapsed = time.monotonic() - started
    expect(summary.get_by_role("listitem")).to_have_text([f"line {bad_password}: the password is empty",
                                                          f"line {bad_recipient}: the recipient is empty"])
    expect(page.locator("#file-error")).to_contain_text(f"line {bad_password}: the password is empty (and 1 more")
    assert elapsed < 30, f"checking 100,000 rows took {elapsed:.1f} s"
    seen = page.evaluate("() => window.seenProgress")
    assert seen["phases"] and all(phase.startswith("Checking") for phase in seen["phases"]), seen["phases"]
    assert workers == [], "encryption started before the whole file was checked"
    assert posts == [], "a bad file was uploaded"
    expect(page.locator("#protect-progress-group")).to_be_hidden()
    expect(page.get_by_role("button", name="Encrypt and upload")).to_be_enabled()


def test_a_file_of_several_parse_chunks_is_encrypted_whole_with_its_progress(
        page: Page, outbox: Path, officer_email: str, tmp_path: Path):
    """48 rows with a long quoted note of several lines each (about 150 KB: three 64 KB parse chunks, rows split
    across them): every row is encrypted, the bar goes up to 100%, and the posted file holds each row once, whose
    messages open with their own passwords in the Python reference."""
    sign_in(page, officer_email, outbox)
    campaign_id = new_protected_campaign(page, "Several chunks")
    people = [{"recipient": f"p{index:02d}.{secrets.token_hex(2)}@example.gov.sg",
               "password": f"S{index:07d}Z 🔐",
               "name": f"Person {index}",
               "note": f"Note {index}, first line\n" + "ab, \"cd\" " * 330 + f"\nend of note {index}"}
              for index in range(48)]
    chunked = tmp_path / "chunked.csv"
    chunked.write_text(csv_text(people, header="recipient,password,name,note"), encoding="utf-8")
    assert chunked.stat().st_size > 2 * 64 * 1024

    page.evaluate(RECORD_PROGRESS)
    page.get_by_label("The message behind the link").fill("<p>Dear {{ name }},</p><p>{{note}}</p>")
    page.get_by_label("Recipient file with passwords").set_input_files(chunked)
    held: list[Route] = []
    page.route(f"**/campaigns/{campaign_id}/recipients",
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    page.get_by_role("button", name="Encrypt and upload").click()
    sample = page.get_by_role("region", name="A decrypted sample")
    expect(sample).to_be_visible(timeout=300_000)
    expect(page.locator("#protect-count")).to_have_text("48 of 48 messages encrypted")
    expect(sample.locator("#protect-sample-body")).to_contain_text("Dear Person 0,")
    seen = page.evaluate("() => window.seenProgress")
    assert seen["phases"][:2] == ["Checking the file", "Encrypting the messages"], seen["phases"]
    encrypting = [value for value in seen["values"] if value is not None]
    assert encrypting == sorted(encrypting) and encrypting[-1] == 100, seen["values"]
    assert any(0 < value < 100 for value in encrypting), seen["values"]
    expect(page.locator("#protect-progress")).to_have_attribute("value", "100")
    sample.get_by_role("button", name="Upload the encrypted file").click()
    for _ in range(300):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the encrypted file was not posted"

    posted = posted_csv(held[0].request)
    assert [row["recipient"] for row in posted] == [person["recipient"] for person in people]
    assert list(posted[0]) == V2_HEADER.split(",")
    assert len({row["id"] for row in posted}) == len(people)
    assert {row["iterations"] for row in posted} == {str(protected_format.V2_ITERATIONS)}
    for index in (0, 21, 47):
        row, person = posted[index], people[index]
        message = protected_format.v2_open(row["payload"], person["password"], row["id"],
                                           protected_format.unb64(row["salt"]), int(row["iterations"]))
        assert message.startswith(f"<p>Dear {person['name']},</p>") and f"end of note {index}" in message
    held[0].continue_()
    expect(page.locator("#recipient-counts")).to_contain_text("48 recipients, of which 0 are not valid",
                                                              timeout=60_000)
    page.unroute(f"**/campaigns/{campaign_id}/recipients")


# Counts, in the page, the bytes each reading of a file takes from it (the page reads a file with Blob.stream()),
# and can stand in for the Web Workers with ones that take rows and never answer.
COUNT_READING = """() => {
    window.bytesRead = [];
    const stream = Blob.prototype.stream;
    Blob.prototype.stream = function () {
        const index = window.bytesRead.push(0) - 1;
        const reader = stream.call(this).getReader();
        return new ReadableStream({
            async pull(controller) {
                const read = await reader.read();
                if (read.done) { controller.close(); return; }
                window.bytesRead[index] += read.value.byteLength;
                controller.enqueue(read.value);
            },
            cancel(reason) { return reader.cancel(reason); }
        });
    };
    window.RealWorker = window.Worker;
    window.SilentWorker = class {
        constructor() { window.rowsTaken = 0; }
        addEventListener() {}
        postMessage(job) { window.rowsTaken += job.rows.length; }
        terminate() {}
    };
}"""


def test_a_long_file_is_read_a_part_at_a_time_while_it_is_encrypted(
        page: Page, outbox: Path, officer_email: str, tmp_path: Path):
    """While the workers are behind, the second reading of a file pauses: of a 40,000-row file (12 MB), a few
    thousand rows wait for them (Chromium reads a file a few MB at a time), not the whole file. When they catch up it
    goes on: 10,000 rows are each encrypted once, in the file's order. The workers derive with 1,000 iterations here
    instead of 600,000 (so the server would refuse the file: it is stopped at the upload)."""
    sign_in(page, officer_email, outbox)
    campaign_id = new_protected_campaign(page, "A long file")

    def people(count: int) -> list[dict[str, str]]:
        return [{"recipient": f"r{index:05d}@example.gov.sg", "password": f"pw-{index}", "name": f"Person {index}",
                 "note": f"note {index} " + "x" * 250} for index in range(count)]

    page.evaluate(COUNT_READING)
    page.get_by_label("The message behind the link").fill("<p>Dear {{name}}: {{note}}</p>")
    file_input = page.get_by_label("Recipient file with passwords")
    encrypt = page.get_by_role("button", name="Encrypt and upload")

    # Workers that never answer: the reading stops once enough rows wait for them.
    paused_file = tmp_path / "paused.csv"
    paused_file.write_text(csv_text(people(40_000), header="recipient,password,name,note"), encoding="utf-8")
    size = paused_file.stat().st_size
    page.evaluate("() => { window.Worker = window.SilentWorker; }")
    file_input.set_input_files(paused_file)
    encrypt.click()
    expect(page.locator("#protect-phase")).to_have_text("Encrypting the messages", timeout=60_000)
    page.wait_for_timeout(2000)
    bytes_read = page.evaluate("() => window.bytesRead")
    assert len(bytes_read) == 2 and bytes_read[0] == size, (bytes_read, size)  # the check read it all
    assert 0 < bytes_read[1] < size / 2, f"{bytes_read[1]} of {size} bytes read while no row was encrypted"
    page.wait_for_timeout(2000)
    assert page.evaluate("() => window.bytesRead") == bytes_read, "the reading did not stop"
    assert page.evaluate("() => window.rowsTaken") > 0
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#protect-errors")).to_contain_text("Stopped: nothing was uploaded")

    # Real workers, quick ones: the reading goes on as they catch up, and ends with every row.
    page.evaluate("() => { window.Worker = window.RealWorker; PostmanProtect.V2_ITERATIONS = 1000; }")
    held: list[Route] = []
    page.route(f"**/campaigns/{campaign_id}/recipients",
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    rows = people(10_000)
    long_file = tmp_path / "long.csv"
    long_file.write_text(csv_text(rows, header="recipient,password,name,note"), encoding="utf-8")
    file_input.set_input_files(long_file)
    encrypt.click()
    sample = page.get_by_role("region", name="A decrypted sample")
    expect(sample).to_be_visible(timeout=300_000)
    expect(page.locator("#protect-count")).to_have_text("10,000 of 10,000 messages encrypted")
    expect(sample.locator("#protect-sample-body")).to_contain_text("Dear Person 0: note 0 xxx")
    assert page.evaluate("() => window.bytesRead")[2:] == [long_file.stat().st_size] * 2
    sample.get_by_role("button", name="Upload the encrypted file").click()
    for _ in range(300):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the encrypted file was not posted"
    posted = posted_csv(held[0].request)
    held[0].abort()
    page.unroute(f"**/campaigns/{campaign_id}/recipients")
    assert [row["recipient"] for row in posted] == [row["recipient"] for row in rows]
    assert len({row["id"] for row in posted}) == len(rows) and {row["iterations"] for row in posted} == {"1000"}
    for index in (0, 2_345, 9_999):
        row = posted[index]
        message = protected_format.v2_open(row["payload"], rows[index]["password"], row["id"],
                                           protected_format.unb64(row["salt"]), 1000)
        assert message == f"<p>Dear Person {index}: {rows[index]['note']}</p>"
    expect(page.locator("#protect-errors")).to_contain_text("did not reach Postman")
