"""``/docs`` and ``/redoc`` in real headless Chromium, with no request leaving the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations(page: Page) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every operation in the served /openapi.json (read as JSON)."""
    response = page.request.get("/openapi.json")
    assert response.ok, response.status
    paths = response.json()["paths"]
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method in HTTP_METHODS
    }


HARNESS_CHECK_PAGE = """<!doctype html>
<meta http-equiv="Content-Security-Policy" content="img-src 'self'">
<link rel="stylesheet" href="https://cdn.example.invalid/a.css">
<img src="http://tiles.example.invalid/0/0/0.png">
<script>
  window.socketDone = new Promise((done) => {
    const ws = new WebSocket("ws://example.invalid/");
    ws.onclose = ws.onerror = () => done();
  });
</script>
"""


def test_the_harness_blocks_and_records_non_local_requests(page, blocked_requests):
    # a page of the server's origin (answered by the test) that reaches for three other hosts
    page.route("**/harness-check", lambda route: route.fulfill(body=HARNESS_CHECK_PAGE,
               content_type="text/html"))  # fmt: skip
    page.goto("/harness-check")
    page.evaluate("window.socketDone")
    # a local request goes through
    assert page.evaluate("fetch('/health').then(r => r.status)") == 200
    assert sorted(blocked_requests) == [
        "csp img-src http://tiles.example.invalid/0/0/0.png",  # refused by the page's CSP
        "stylesheet https://cdn.example.invalid/a.css",  # aborted by the route
        "websocket ws://example.invalid/",
    ]
    blocked_requests.clear()  # recorded as it should be: do not fail this test at teardown


def test_docs_lists_every_operation_offline(
    page, open_page, screenshot, blocked_requests, page_errors
):
    response = open_page("/docs")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    summaries = page.locator(".opblock .opblock-summary")
    summaries.first.wait_for(state="visible")
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("gridgeo")
    shown = set()
    for block in page.locator(".opblock").all():
        method = block.locator(".opblock-summary-method").inner_text().strip()
        path = block.locator(".opblock-summary-path").get_attribute("data-path")
        shown.add((method, path))
    expected = _operations(page)
    assert ("GET", "/health") in expected  # the schema was read, not an empty page
    assert shown == expected
    assert page.locator(".opblock").count() == len(expected)
    assert summaries.first.is_visible()
    screenshot("docs", full_page=True)  # the whole operation list
    # the assets came from this server: Swagger UI's bundle and CSS under /static/vendor
    loaded = page.evaluate(
        "performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)"
    )
    assert "/static/vendor/swagger-ui-dist-5.36.0/swagger-ui-bundle.js" in loaded
    assert "/static/vendor/swagger-ui-dist-5.36.0/swagger-ui.css" in loaded
    assert page_errors == []
    assert blocked_requests == []


def test_redoc_lists_every_operation_offline(
    page, open_page, screenshot, blocked_requests, page_errors
):
    response = open_page("/redoc")
    assert "img-src 'self' data:" in response.headers["content-security-policy"]
    title = page.locator(".api-content h1").first
    title.wait_for(state="visible")
    assert title.inner_text().startswith("gridgeo")
    # each operation's panel shows its method and, next to it, its path
    shown = page.evaluate(
        "[...document.querySelectorAll('.api-content span.http-verb')]"
        ".map(s => [s.textContent.trim().toUpperCase(), s.nextElementSibling.textContent])"
    )
    expected = _operations(page)
    assert ("GET", "/health") in expected
    assert {tuple(pair) for pair in shown} == expected
    assert len(shown) == len(expected)
    screenshot("redoc")
    assert page_errors == []
    # ReDoc 2.5.4 always renders its vendor's logo from the vendor's CDN; the page's
    # Content-Security-Policy refuses it before any request is made, and nothing else
    # tries to leave the machine
    page.get_by_text("API docs by Redocly").wait_for(state="attached")
    for _ in range(50):  # the refusal is reported from the page asynchronously
        if blocked_requests:
            break
        page.wait_for_timeout(100)
    assert blocked_requests == [f"csp img-src {REDOC_LOGO}"]
    blocked_requests.clear()  # the one expected refusal: do not fail at teardown
