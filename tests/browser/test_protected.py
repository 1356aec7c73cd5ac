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

Every page passes ``check_page`` (axe-core, no CSP violation, no script error).
"""

from __future__ import annotations

import email.message
import json
import re
import secrets
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
from tests.browser.journeys import campaign_email, click_below_frame, sign_in, wait_until_sent
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
    page.get_by_label("Message").fill('<p>Dear {{recipient}}, <a href="{{protectedlink}}">open your result</a>.</p>')
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

