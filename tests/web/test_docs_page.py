"""The API reference at /docs: served whole from this origin, readable without JavaScript."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from flask.testing import FlaskClient

ORIGIN = "http://localhost"


class Links(HTMLParser):
    """Every URL the page loads or links to, by tag."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data-spec-url") and value:
                self.found.append((tag, value))


def links(html: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(html)
    return parser.found


def test_the_docs_page_loads_only_from_its_own_origin(client: FlaskClient):
    response = client.get("/docs")
    assert response.status_code == 200
    found = links(response.get_data(as_text=True))
    assert found
    for _tag, url in found:
        parts = urlsplit(urljoin(ORIGIN + "/docs", url))
        assert (parts.scheme, parts.netloc) == ("http", "localhost"), url


def test_the_docs_assets_are_served_with_their_content_types(client: FlaskClient):
    html = client.get("/docs").get_data(as_text=True)
    scripts = [url for tag, url in links(html) if tag == "script"]
    styles = [url for tag, url in links(html) if tag == "link" and ".css" in url]
    assert any("swagger-ui-bundle.js" in url for url in scripts), scripts
    assert any("docs.js" in url for url in scripts), scripts
    assert any("swagger-ui.css" in url for url in styles), styles
    for url in scripts:
        with client.get(url) as response:  # a file response: close it
            assert response.status_code == 200, url
            assert response.mimetype in ("text/javascript", "application/javascript"), url
            assert len(response.data) > 100
    for url in styles:
        with client.get(url) as response:
            assert response.status_code == 200, url
            assert response.mimetype == "text/css", url


def test_the_spec_link_returns_the_openapi_document(client: FlaskClient):
    html = client.get("/docs").get_data(as_text=True)
    spec_urls = {url for tag, url in links(html) if tag == "div" or "openapi" in url}
    assert spec_urls == {"/openapi.json"}
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.json
    assert document["openapi"].startswith("3.")
    assert "/personal/v1/tokens" in document["paths"]


def test_without_javascript_the_page_lists_the_operations_and_links_the_spec(
    client: FlaskClient,
):
    html = client.get("/docs").get_data(as_text=True)
    assert 'href="/openapi.json"' in html
    assert "<code>/personal/v1/intentions</code>" in html
    assert "<code>POST</code>" in html


def test_only_the_renderer_files_are_served(client: FlaskClient):
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2Fflask_swagger_ui.py").status_code == 404


def test_every_page_links_to_the_docs_in_its_footer(client: FlaskClient):
    html = client.get("/login").get_data(as_text=True)
    footer = html[html.index('<footer class="site">') :]
    assert 'href="/docs"' in footer
