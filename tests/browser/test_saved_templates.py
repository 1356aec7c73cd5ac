"""Saved templates in a real browser, with scripts and without (issue 18): a campaign's message saved as a template
from the "Write the message" step, a name already used refused on the form, a new campaign started from the template
(its message copied), the template edited (the campaign keeps its copy) and deleted after a confirmation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.journeys import create_campaign, sign_in
from tests.browser.page_checks import check_page

pytestmark = pytest.mark.e2e

TEMPLATE = "Clinic reminder SMS"
BODY = "Hi {{name}}, your clinic appointment is on {{appointment}}."
CHANGED = "Hello {{name}}, see you at the clinic on {{appointment}}."


def test_a_message_is_saved_as_a_template_reused_edited_and_deleted(any_page: Page, outbox, officer_email: str,
                                                                    scripts: bool):
    page = any_page
    suffix = "" if scripts else "-no-js"
    sign_in(page, officer_email, outbox)

    # Save a campaign's message as a template, from the message step.
    source = create_campaign(page, "Clinic reminders", "SMS")
    page.get_by_label("Message").fill(BODY)
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{source}/recipients$"))
    page.goto(f"/campaigns/{source}/template")
    expect(page.get_by_label("Template name")).to_have_value("Clinic reminders")
    check_page(page, f"saved-template-save-as{suffix}")
    page.get_by_label("Template name").fill(TEMPLATE)
    page.get_by_role("button", name="Save as a template").click()
    expect(page).to_have_url(re.compile(r"/templates\?notice=saved$"))
    expect(page.locator("#notice")).to_contain_text("saved as a template")
    row = page.locator("#templates-sms-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.get_by_role("rowheader")).to_have_text(TEMPLATE)
    check_page(page, f"saved-templates{suffix}")

    # The same name again: refused beside the field, nothing saved.
    page.goto(f"/campaigns/{source}/template")
    page.get_by_label("Template name").fill(TEMPLATE)
    page.get_by_role("button", name="Save as a template").click()
    expect(page.get_by_role("heading", name="Save the message as a template")).to_be_visible()
    expect(page.locator("#template_name-error")).to_contain_text("already used by another of your SMS templates")
    check_page(page, f"saved-template-name-clash{suffix}")

    # Start a new campaign from it: the channel and the template are chosen, the message is copied.
    page.goto("/templates")
    page.get_by_role("link", name=f"Start a campaign from {TEMPLATE}").click()
    expect(page.get_by_label("Start from a saved template (optional)")).to_have_value(re.compile(r"^\d+$"))
    expect(page.get_by_role("radio", name="SMS", exact=True)).to_be_checked()
    check_page(page, f"saved-template-new-campaign{suffix}")
    page.get_by_label("Campaign name").fill("Clinic reminders, January")
    page.get_by_role("button", name="Create campaign").click()
    expect(page.get_by_role("heading", name="Write the message")).to_be_visible()
    started = re.search(r"/campaigns/(\d+)/template", page.url)
    assert started, page.url
    expect(page.get_by_label("Message")).to_have_value(BODY)

    # Edit the template: an empty name is refused, then the change is saved; the campaign keeps its copy.
    page.goto("/templates")
    page.get_by_role("link", name=f"Edit {TEMPLATE}").click()
    page.get_by_label("Template name").fill("")
    page.get_by_role("button", name="Save the template").click()
    expect(page.locator("#name-error")).to_contain_text("Enter a name for the template")
    page.get_by_label("Template name").fill(TEMPLATE)
    page.get_by_label("Message").fill(CHANGED)
    check_page(page, f"saved-template-edit{suffix}")
    page.get_by_role("button", name="Save the template").click()
    expect(page.locator("#notice")).to_contain_text("The template was saved")
    expect(page.locator("#templates-sms-table")).to_contain_text("see you at the clinic")
    page.goto(f"/campaigns/{started.group(1)}/template")
    expect(page.get_by_label("Message")).to_have_value(BODY)

    # Delete it, after a confirmation.
    page.goto("/templates")
    page.get_by_role("link", name=f"Delete {TEMPLATE}").click()
    expect(page.get_by_role("heading", name="Delete this template?")).to_be_visible()
    check_page(page, f"saved-template-delete{suffix}")
    page.get_by_role("button", name="Delete the template").click()
    expect(page.locator("#notice")).to_contain_text("The template was deleted")
    expect(page.locator("#no-templates")).to_be_visible()
