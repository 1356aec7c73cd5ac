"""The checks every page of the browser tests passes can fail: a page with a serious accessibility fault, an inline
script or a ``style=`` attribute under the gateway's CSP, or a script error is refused (pages served by a small
local server with the gateway's own CSP header)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page

from postman_gateway.web.security import CSP
from tests.browser.page_checks import check_page, screenshot_path, watch

PAGES = {
    "/clean": "<main><h1>Fine</h1><p>Nothing wrong here.</p></main>",
    "/no-alt": '<main><h1>Picture</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main>',
    "/inline-script": "<main><h1>Script</h1><script>document.title = 'ran'</script></main>",
    "/inline-style": '<main><h1 style="color: red">Styled</h1></main>',
    "/script-error": '<main><h1>Broken</h1></main><script src="/broken.js"></script>',
}


class Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/broken.js":
            body, kind = b"undefinedFunction();", "text/javascript"
        else:
            content = PAGES[self.path]
            body = f'<!DOCTYPE html><html lang="en"><head><title>Test</title></head><body>{content}</body></html>'\
                .encode()
            kind = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def bare_page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server)
    watch(context)
    yield context.new_page()
    context.close()


def test_a_clean_page_passes_and_is_photographed(bare_page: Page):
    bare_page.goto("/clean")
    screenshot_path("self-test-clean").unlink(missing_ok=True)
    check_page(bare_page, "self-test-clean")
    assert screenshot_path("self-test-clean").stat().st_size > 0
    screenshot_path("self-test-clean").unlink()


@pytest.mark.parametrize(("path", "expected"), [
    ("/no-alt", "image-alt (critical)"),
    ("/inline-script", "CSP violation"),
    ("/inline-style", "CSP violation"),
    ("/script-error", "script error: ReferenceError"),
])
def test_a_faulty_page_is_refused(bare_page: Page, path: str, expected: str):
    bare_page.goto(path)
    with pytest.raises(AssertionError) as refused:
        check_page(bare_page, "self-test-faulty")
    screenshot_path("self-test-faulty").unlink(missing_ok=True)
    assert expected in str(refused.value)
    assert path in str(refused.value)  # says which page
