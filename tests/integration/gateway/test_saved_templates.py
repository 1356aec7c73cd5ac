"""Saved templates through the API (an extension of v1, issue 18): create, list, read, change and delete them, with
the campaign template's checks (errors naming the field), a name unique per user and channel, another user's template
as 404, saving a campaign's message as a template, and starting a campaign from one (a copy of its fields)."""

from __future__ import annotations

import pytest

FROM = "Postman <donotreply@mail.postman.gov.sg>"
EMAIL = {"name": "Appointment reminder", "channel": "EMAIL", "subject": "Your appointment, {{name}}",
         "body": "<p>Dear {{name}}, see you on {{appointment}}.</p>", "reply_to": "clinic@agency.gov.sg"}
SMS = {"name": "Clinic SMS", "channel": "SMS", "body": "Hi {{name}}, your slot is {{time}}."}

pytestmark = pytest.mark.usefixtures("pipeline")


def create(http, caller, fields):
    created = http.post("/v1/templates", headers=caller.headers, json=fields)
    assert created.status_code == 201, created.json
    return created.json


def refusal(response):
    return response.status_code, response.json["code"], response.json["message"]


def test_a_template_is_created_listed_read_changed_and_deleted(http, new_caller):
    caller = new_caller()
    email = create(http, caller, EMAIL)
    sms = create(http, caller, SMS)

    assert {k: email[k] for k in ("name", "channel", "subject", "body", "reply_to", "from", "show_logo")} == {
        **{k: v for k, v in EMAIL.items()}, "from": FROM, "show_logo": True}
    assert sorted(email["params"]) == ["appointment", "name"]
    assert set(sms) == {"id", "name", "channel", "body", "params", "created_at", "updated_at"}  # no email fields
    listed = http.get("/v1/templates", headers=caller.headers).json["templates"]
    assert [t["id"] for t in listed] == [email["id"], sms["id"]]  # by channel, then name
    only_sms = http.get("/v1/templates?channel=SMS", headers=caller.headers).json["templates"]
    assert [t["id"] for t in only_sms] == [sms["id"]]
    assert http.get(f"/v1/templates/{email['id']}", headers=caller.headers).json == email

    changed = http.put(f"/v1/templates/{email['id']}", headers=caller.headers,
                       json={"name": "Reminder, v2", "subject": "Hello {{name}}", "body": "<p>Hi {{name}}</p>",
                             "show_logo": False})
    assert changed.status_code == 200, changed.json
    assert (changed.json["name"], changed.json["subject"], changed.json["params"], changed.json["reply_to"],
            changed.json["show_logo"], changed.json["channel"]) == \
        ("Reminder, v2", "Hello {{name}}", ["name"], None, False, "EMAIL")

    deleted = http.delete(f"/v1/templates/{email['id']}", headers=caller.headers)
    assert deleted.status_code == 200 and deleted.json == {"id": email["id"]}
    assert refusal(http.get(f"/v1/templates/{email['id']}", headers=caller.headers))[:2] == (404, "not_found")
    assert [t["id"] for t in http.get("/v1/templates", headers=caller.headers).json["templates"]] == [sms["id"]]


def test_a_template_is_checked_and_sanitised_as_a_campaign_template_is(http, new_caller):
    caller = new_caller()
    cleaned = create(http, caller, {**EMAIL, "body": '<p onclick="x()">Hi {{name}}</p><script>alert(1)</script>'})
    assert "script" not in cleaned["body"] and "onclick" not in cleaned["body"] and "Hi {{name}}" in cleaned["body"]

    cases = {
        "name": {**SMS, "name": "  "},
        "name ": {**SMS, "name": "x" * 101},
        "channel": {**SMS, "channel": "FAX"},
        "subject": {**EMAIL, "subject": ""},
        "body": {**SMS, "body": ""},
        "reply_to": {**EMAIL, "reply_to": "not an address"},
        "from": {**EMAIL, "from": "Someone <someone@elsewhere.example>"},
    }
    for field, fields in cases.items():
        status, code, message = refusal(http.post("/v1/templates", headers=caller.headers, json=fields))
        assert status == 400, (field, message)
        assert code in ("api_validation", "invalid_parameters", "invalid_from_address"), (field, message)
        assert field.strip() in message.lower(), (field, message)
    status, code, message = refusal(http.post("/v1/templates", headers=caller.headers,
                                              json={**SMS, "body": "Hi {{name"}))
    assert (status, code) == (400, "invalid_template"), message
    assert http.get("/v1/templates?channel=SMS", headers=caller.headers).json == {"templates": []}


def test_a_name_is_unique_per_user_and_channel(http, new_caller):
    caller, other = new_caller(), new_caller()
    first = create(http, caller, SMS)
    status, code, message = refusal(http.post("/v1/templates", headers=caller.headers, json=SMS))
    assert (status, code) == (400, "api_validation")
    assert "name 'Clinic SMS' is already used by another of your SMS templates" in message
    create(http, caller, {**SMS, "channel": "TELEGRAM"})  # the same name on another channel
    create(http, other, SMS)  # and for another user
    second = create(http, caller, {**SMS, "name": "Clinic SMS 2"})
    renamed = http.put(f"/v1/templates/{second['id']}", headers=caller.headers, json={**SMS})
    assert refusal(renamed)[:2] == (400, "api_validation") and "already used" in renamed.json["message"]
    assert http.get(f"/v1/templates/{first['id']}", headers=caller.headers).json == first
    moved = http.put(f"/v1/templates/{second['id']}", headers=caller.headers, json={**SMS, "channel": "EMAIL"})
    assert refusal(moved)[:2] == (400, "api_validation") and "channel" in moved.json["message"]


def test_another_users_template_is_404(http, new_caller):
    owner, intruder = new_caller(), new_caller()
    saved = create(http, owner, SMS)
    for method in ("GET", "PUT", "DELETE"):
        answer = http.open(f"/v1/templates/{saved['id']}", method=method, headers=intruder.headers, json=SMS)
        assert refusal(answer)[:2] == (404, "not_found"), method
    assert http.get(f"/v1/templates/{saved['id']}", headers=owner.headers).json == saved
    bad_id = http.get("/v1/templates/abc", headers=owner.headers)
    assert refusal(bad_id)[:2] == (400, "api_validation") and "templateId" in bad_id.json["message"]


def test_a_campaign_starts_from_a_template_with_a_copy_of_its_fields(http, new_caller):
    caller = new_caller()
    email = create(http, caller, {**EMAIL, "show_logo": False})
    started = http.post("/v1/campaigns", headers=caller.headers,
                        json={"name": "December reminders", "type": "EMAIL", "template_id": str(email["id"])})
    assert started.status_code == 201, started.json
    details = http.get(f"/v1/campaign/{started.json['id']}/email", headers=caller.headers).json
    template = details["email_templates"]
    assert (template["subject"], template["body"], template["reply_to"], template["from"], template["show_logo"]) \
        == (EMAIL["subject"], EMAIL["body"], EMAIL["reply_to"], FROM, False)

    # A copy: changing the saved template leaves the campaign as it was.
    http.put(f"/v1/templates/{email['id']}", headers=caller.headers, json={**EMAIL, "body": "<p>Changed</p>"})
    again = http.get(f"/v1/campaign/{started.json['id']}/email", headers=caller.headers).json
    assert again == details

    sms = create(http, caller, {**SMS, "body": "Hello {{name}} 😀"})
    sms_campaign = http.post("/v1/campaigns", headers=caller.headers,
                             json={"name": "Clinic", "type": "SMS", "template_id": sms["id"]})
    assert sms_campaign.status_code == 201, sms_campaign.json
    sms_details = http.get(f"/v1/campaign/{sms_campaign.json['id']}/sms", headers=caller.headers).json
    assert (sms_details["sms_templates"]["body"], sms_details["sms_templates"]["encoding"]) == \
        ("Hello {{name}} 😀", "UCS-2")  # measured again: the emoji needs UCS-2

    wrong_channel = http.post("/v1/campaigns", headers=caller.headers,
                              json={"name": "x", "type": "SMS", "template_id": email["id"]})
    assert refusal(wrong_channel)[:2] == (400, "api_validation") and "template_id" in wrong_channel.json["message"]
    protected = http.post("/v1/campaigns", headers=caller.headers,
                          json={"name": "x", "type": "EMAIL", "protect": True, "template_id": email["id"]})
    assert refusal(protected)[:2] == (400, "api_validation") and "template_id" in protected.json["message"]
    malformed = http.post("/v1/campaigns", headers=caller.headers, json={"name": "x", "type": "SMS",
                                                                          "template_id": "seven"})
    assert refusal(malformed)[:2] == (400, "api_validation") and "template_id" in malformed.json["message"]
    missing = http.post("/v1/campaigns", headers=caller.headers, json={"name": "x", "type": "SMS",
                                                                        "template_id": 987654321})
    assert refusal(missing)[:2] == (404, "not_found")
    assert http.get("/v1/campaigns", headers=caller.headers).json["total_count"] == 2  # nothing else was made


def test_a_campaigns_message_is_saved_as_a_template(http, new_caller):
    caller = new_caller()
    campaign = http.post("/v1/campaigns", headers=caller.headers, json={"name": "Clinic", "type": "SMS"}).json
    empty = http.post(f"/v1/campaigns/{campaign['id']}/template/save-as", headers=caller.headers,
                      json={"name": "From the clinic"})
    assert refusal(empty)[:2] == (400, "invalid_template") and "no message yet" in empty.json["message"]
    assert http.put(f"/v1/campaign/{campaign['id']}/sms/template", headers=caller.headers,
                    json={"body": "Hi {{name}}, see you at {{time}}"}).status_code == 200

    saved = http.post(f"/v1/campaigns/{campaign['id']}/template/save-as", headers=caller.headers,
                      json={"name": "From the clinic"})
    assert saved.status_code == 201, saved.json
    assert (saved.json["name"], saved.json["channel"], saved.json["body"], sorted(saved.json["params"])) == \
        ("From the clinic", "SMS", "Hi {{name}}, see you at {{time}}", ["name", "time"])
    clash = http.post(f"/v1/campaigns/{campaign['id']}/template/save-as", headers=caller.headers,
                      json={"name": "From the clinic"})
    assert refusal(clash)[:2] == (400, "api_validation") and "name" in clash.json["message"]
    nameless = http.post(f"/v1/campaigns/{campaign['id']}/template/save-as", headers=caller.headers, json={})
    assert refusal(nameless)[:2] == (400, "api_validation") and "name" in nameless.json["message"]


def test_the_pages_never_show_or_change_another_officers_template(http, new_caller, sign_in):
    owner, intruder = sign_in(), sign_in()
    saved = owner.client.post("/v1/templates", json={**SMS, "name": "Owner's SMS"})
    assert saved.status_code == 201, saved.json

    for page in (f"/templates/{saved.json['id']}", f"/templates/{saved.json['id']}/delete"):
        answer = intruder.client.get(page)
        assert answer.status_code == 404 and "Owner's SMS" not in answer.get_data(as_text=True), page
    listed = intruder.client.get("/templates").get_data(as_text=True)
    assert "Owner's SMS" not in listed and "You have no saved templates yet" in listed
    new = intruder.client.get(f"/campaigns/new?template={saved.json['id']}").get_data(as_text=True)
    assert "Owner's SMS" not in new and 'id="template"' not in new  # no templates of their own: no choice
    own = owner.client.get(f"/campaigns/new?template={saved.json['id']}").get_data(as_text=True)
    assert f'<option value="{saved.json["id"]}" selected>SMS: Owner&#39;s SMS</option>' in own
