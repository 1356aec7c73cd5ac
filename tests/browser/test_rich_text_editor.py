"""The email message's rich-text editor (static/js/rich-text-editor.js), in a real browser under the page's CSP: an
officer formats a message with the keyboard only (the toolbar, Ctrl+B, the small forms behind Link, Table and
Image, a field inserted from the list), saves it, and finds it again exactly as saved; a paste from a word processor
keeps its text and loses its markup; without scripts the HTML textarea does the job alone. A saved email template's
message is edited in the same editor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from postman_renderer.sanitise import sanitise_email_html
from tests.browser.conftest import new_context
from tests.browser.journeys import create_campaign, sign_in
from tests.browser.page_checks import check_page
from tests.support.processes import RunningSystem

pytestmark = pytest.mark.e2e

IMAGE_URL = "https://images.example.gov.sg/clinic.svg"  # served by the test (the browser has no internet)
IMAGE = ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="60"><rect width="160" height="60" '
         'fill="#1d70b8"/><text x="80" y="38" font-size="20" text-anchor="middle" fill="#fff">Clinic</text></svg>')

# What the keyboard session below writes, as the editor hands it to the form (and the sanitiser keeps it).
EXPECTED = (
    '<p>Dear {{recipient}},</p>'
    '<p>Your results are <b>ready</b> and <i>private</i>.</p>'
    '<h2>Next steps</h2>'
    '<ul><li>Bring your IC</li><li>Arrive early</li></ul>'
    '<p>Read <a href="https://www.gov.sg/results" rel="noopener noreferrer">our guide</a>.</p>'
    '<table border="1" cellpadding="8"><tbody><tr><td>Day</td><td>Time</td></tr></tbody></table>'
    f'<p><img src="{IMAGE_URL}" alt="The clinic’s sign"><br></p>'  # the editor's line after the image
)

# A paste from a word processor (Word's HTML): its styles, conditional comments, o:p, font, class and lang
# attributes, and things no paste should bring (a script, an event handler, a javascript: link).
WORD_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word">
<head><meta name=Generator content="Microsoft Word 15"><style><!-- p.MsoNormal {mso-style-parent:"";
margin:0cm;font-size:11.0pt;font-family:"Calibri",sans-serif;} --></style><!--[if gte mso 9]><xml>
<o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml><![endif]--></head>
<body lang=EN-SG style='tab-interval:36.0pt'><!--StartFragment-->
<p class=MsoNormal style='mso-margin-top-alt:auto;mso-margin-bottom-alt:auto'><b><span lang=EN-GB
style='font-size:12.0pt;mso-bidi-font-family:Arial;color:#C00000'>Dear {{name}},</span></b><o:p></o:p></p>
<p class=MsoListParagraph style='text-indent:-18.0pt;mso-list:l0 level1 lfo1'><![if !supportLists]><span
style='font-family:Symbol'>·<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp; </span></span><![endif]>
<font face="Calibri" color="red" onclick="alert(1)">Bring your IC</font><o:p></o:p></p>
<p class=MsoNormal><a href="javascript:alert(2)" onmouseover="alert(3)">Click here</a><script>alert(4)</script>
<u><i>Thank you</i></u><o:p>&nbsp;</o:p></p>
<!--EndFragment--></body></html>"""


def serve_image(page: Page) -> None:
    page.route(IMAGE_URL, lambda route: route.fulfill(body=IMAGE, content_type="image/svg+xml"))


def editor_html(page: Page) -> str:
    return page.locator("textarea#body").input_value()


def ready_editor(page: Page) -> Locator:
    """The rich-text editor once its script has set it up (until then "Message" is the HTML textarea, and the
    toolbar is not there yet)."""
    editor = page.get_by_role("textbox", name="Message")
    expect(editor).to_have_attribute("contenteditable", "true")
    return editor


def toolbar_button(page: Page, name: str) -> None:
    """From the editor: Shift+Tab to the toolbar (one tab stop), arrow keys to the button, Enter."""
    page.keyboard.press("Shift+Tab")
    toolbar = page.get_by_role("toolbar", name="Format the message")
    page.keyboard.press("Home")
    names = [b.inner_text() for b in toolbar.get_by_role("button").all()]
    for _ in range(names.index(name)):
        page.keyboard.press("ArrowRight")
    expect(toolbar.get_by_role("button", name=name, exact=True)).to_be_focused()
    page.keyboard.press("Enter")


def fill_dialog(page: Page, heading: str, values: list[str], refused: bool = False) -> None:
    """In the small form the toolbar opened: the values typed field after field, then Enter (its first button);
    it closes, unless ``refused``."""
    dialog = page.get_by_role("dialog", name=heading)
    expect(dialog).to_be_visible()
    for index, value in enumerate(values):
        if index:
            page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    if not refused:
        expect(dialog).to_be_hidden()


def test_an_officer_formats_an_email_with_the_keyboard_only_and_finds_it_as_saved(page: Page, officer_email: str,
                                                                                   outbox: Path):
    serve_image(page)
    sign_in(page, officer_email, outbox)
    campaign_id = create_campaign(page, "Test results", "Email")
    editor = page.get_by_role("textbox", name="Message")
    expect(editor).to_have_attribute("contenteditable", "true")
    expect(page.locator("textarea#body")).to_be_hidden()

    # Subject, then Tab: the toolbar (one stop), Tab: the editor.
    page.get_by_label("Subject").focus()
    page.keyboard.type("Your results")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Bold", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(editor).to_be_focused()

    # A field from the list, inserted at the caret.
    page.keyboard.type("Dear ")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Insert a field")).to_be_focused()
    expect(page.get_by_label("Insert a field")).to_have_value("recipient")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Insert field"
    expect(editor).to_be_focused()
    page.keyboard.type(",")
    page.keyboard.press("Enter")

    # Ctrl+B and Ctrl+I, with the toolbar saying so.
    page.keyboard.type("Your results are ")
    page.keyboard.press("Control+b")
    page.keyboard.type("ready")
    expect(page.get_by_role("button", name="Bold", exact=True)).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Control+b")
    page.keyboard.type(" and ")
    toolbar_button(page, "Italic")
    page.keyboard.type("private")
    page.keyboard.press("Control+i")
    page.keyboard.type(".")
    page.keyboard.press("Enter")

    # A heading, a bulleted list.
    page.keyboard.type("Next steps")
    toolbar_button(page, "Heading")
    expect(page.get_by_role("button", name="Heading", exact=True)).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    toolbar_button(page, "Bulleted list")
    page.keyboard.type("Bring your IC")
    page.keyboard.press("Enter")
    page.keyboard.type("Arrive early")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # an empty item ends the list

    # A link, a table, an image: each through its small form.
    page.keyboard.type("Read ")
    toolbar_button(page, "Link")
    fill_dialog(page, "Add a link", ["javascript:alert(1)"], refused=True)
    expect(page.get_by_role("dialog", name="Add a link").get_by_role("alert")).to_have_text(re.compile("https://"))
    fill_dialog(page, "Add a link", ["https://www.gov.sg/results", "our guide"])
    page.keyboard.type(".")
    page.keyboard.press("Enter")
    toolbar_button(page, "Table")
    fill_dialog(page, "Add a table", ["1", "2"])
    page.keyboard.type("Day")
    page.keyboard.press("ArrowRight")
    page.keyboard.type("Time")
    page.keyboard.press("ArrowDown")  # out of the table, to the line below it
    toolbar_button(page, "Image")
    fill_dialog(page, "Add an image", [IMAGE_URL, "The clinic’s sign"])

    html = editor_html(page)
    assert html == EXPECTED
    assert sanitise_email_html(html) == html  # what the editor writes is what the sanitiser keeps
    expect(page.locator("#preview-keys")).to_contain_text("recipient")
    check_page(page, "rich-text-editor")

    page.get_by_role("button", name="Save and continue").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}/recipients$"))

    # Loaded again: the saved HTML is the editor's, and the editor shows it unchanged.
    page.goto(f"/campaigns/{campaign_id}/template")
    assert editor_html(page) == EXPECTED
    expect(editor.locator("h2")).to_have_text("Next steps")
    expect(editor.locator("a")).to_have_attribute("href", "https://www.gov.sg/results")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}/recipients$"))
    page.goto(f"/campaigns/{campaign_id}/template")
    assert editor_html(page) == EXPECTED


# The saved template below, before and after the officer bolds a word in it.
SAVED = f'<p>Your results are ready</p><p><img src="{IMAGE_URL}" alt="The clinic’s sign"><br></p>'
SAVED_BOLD = SAVED.replace("ready", "<b>ready</b>")


def test_an_officer_bolds_a_word_of_a_saved_email_template_in_the_editor(page: Page, officer_email: str,
                                                                       outbox: Path):
    serve_image(page)
    sign_in(page, officer_email, outbox)
    # A saved email template with an https image (which the edit page's policy must let the editor show).
    campaign_id = create_campaign(page, "Results", "Email")
    page.get_by_label("Subject").fill("Your results")
    ready_editor(page).focus()
    page.keyboard.type("Your results are ready")
    page.keyboard.press("Enter")
    toolbar_button(page, "Image")
    fill_dialog(page, "Add an image", [IMAGE_URL, "The clinic’s sign"])
    assert editor_html(page) == SAVED
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}/recipients$"))
    page.goto(f"/campaigns/{campaign_id}/template")
    page.get_by_label("Template name").fill("Results letter")
    page.get_by_role("button", name="Save as a template").click()
    expect(page).to_have_url(re.compile(r"/templates\?notice=saved$"))

    # Its edit page: the message in the editor (the HTML textarea hidden), formatted with the keyboard.
    page.get_by_role("link", name="Edit Results letter").click()
    expect(page.get_by_role("heading", name="Edit a saved template")).to_be_visible()
    editor = page.get_by_role("textbox", name="Message")
    expect(editor).to_have_attribute("contenteditable", "true")
    expect(page.locator("textarea#body")).to_be_hidden()
    expect(editor.get_by_role("img", name="The clinic’s sign")).to_be_visible()
    editor.focus()
    page.keyboard.press("Control+Home")
    page.keyboard.press("End")
    page.keyboard.press("Control+Shift+ArrowLeft")  # the word "ready"
    page.keyboard.press("Control+b")
    expect(page.get_by_role("button", name="Bold", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(editor.locator("b")).to_have_text("ready")
    check_page(page, "saved-template-rich-text-editor")
    page.get_by_role("button", name="Save the template").click()
    expect(page.locator("#notice")).to_contain_text("The template was saved")

    # Stored as the editor wrote it, which is what the sanitiser keeps; the editor shows it again.
    page.get_by_role("link", name="Edit Results letter").click()
    stored = editor_html(page)
    assert stored == SAVED_BOLD
    assert sanitise_email_html(stored) == stored
    expect(editor.locator("b")).to_have_text("ready")


def test_a_paste_from_a_word_processor_keeps_the_text_and_loses_the_markup(page: Page, officer_email: str,
                                                                           outbox: Path):
    sign_in(page, officer_email, outbox)
    create_campaign(page, "Pasted", "Email")
    editor = ready_editor(page)
    editor.focus()
    # What the browser hands a page on Ctrl+V from Word: a paste event with the HTML and the plain text.
    editor.evaluate("""(area, html) => {
        const data = new DataTransfer();
        data.setData("text/html", html);
        data.setData("text/plain", "Dear {{name}}, Bring your IC");
        area.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }""", WORD_HTML)
    expect(editor).to_contain_text("Bring your IC")
    expect(page.locator("textarea#body")).to_have_value(re.compile("Thank you"))
    html = editor_html(page)
    for removed in ("style", "mso", "class", "lang", "o:p", "font", "script", "alert", "javascript", "onclick",
                    "onmouseover", "Calibri", "<span", "<!--"):
        assert removed not in html, (removed, html)
    assert "<b>Dear {{name}},</b>" in html
    assert "Click here" in html and "<a" not in html  # a link without its (javascript:) address is its text
    assert "<u><i>Thank you</i></u>" in html
    assert sanitise_email_html(html) == html
    expect(page.locator("#preview-keys")).to_contain_text("name")
    check_page(page, "rich-text-editor-paste")


def test_without_scripts_the_message_is_written_as_html(browser: Browser, system: RunningSystem, officer_email: str,
                                                        outbox: Path):
    context = new_context(browser, system, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, officer_email, outbox)
        campaign_id = create_campaign(page, "Plain", "Email")
        expect(page.get_by_role("toolbar")).to_have_count(0)
        page.get_by_label("Subject").fill("Plain")
        page.get_by_role("textbox", name="Message").fill("<p>Dear {{name}}, <b>hello</b>.</p>")
        page.get_by_role("button", name="Save and continue").click()
        expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}/recipients$"))
        page.goto(f"/campaigns/{campaign_id}/template")
        expect(page.get_by_role("textbox", name="Message")).to_have_value("<p>Dear {{name}}, <b>hello</b>.</p>")
        check_page(page, "rich-text-editor-without-scripts")
    finally:
        context.close()


def test_without_scripts_a_saved_email_template_is_edited_as_html(browser: Browser, system: RunningSystem,
                                                                  officer_email: str, outbox: Path):
    context = new_context(browser, system, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, officer_email, outbox)
        campaign_id = create_campaign(page, "Plain saved", "Email")
        page.get_by_label("Subject").fill("Plain")
        page.get_by_role("textbox", name="Message").fill("<p>Dear {{name}}</p>")
        page.get_by_role("button", name="Save and continue").click()
        expect(page).to_have_url(re.compile(rf"/campaigns/{campaign_id}/recipients$"))
        page.goto(f"/campaigns/{campaign_id}/template")
        page.get_by_label("Template name").fill("Plain letter")
        page.get_by_role("button", name="Save as a template").click()
        page.get_by_role("link", name="Edit Plain letter").click()
        expect(page.get_by_role("toolbar")).to_have_count(0)
        page.get_by_role("textbox", name="Message").fill("<p>Dear {{name}}, <b>hello</b>.</p>")
        check_page(page, "saved-template-rich-text-editor-without-scripts")
        page.get_by_role("button", name="Save the template").click()
        expect(page.locator("#notice")).to_contain_text("The template was saved")
        page.get_by_role("link", name="Edit Plain letter").click()
        expect(page.get_by_role("textbox", name="Message")).to_have_value("<p>Dear {{name}}, <b>hello</b>.</p>")
    finally:
        context.close()
