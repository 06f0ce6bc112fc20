"""Following the portal's own links and forms, as a person clicking through would."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: dict = field(default_factory=dict)


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form":
            self._form = Form(page="", action=attrs.get("action") or "", method=(attrs.get("method") or "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and attrs.get("name"):
            if attrs.get("type") == "checkbox" and "checked" not in attrs:
                return
            self._form.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self._form.fields[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self._form.fields[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_links_and_forms(url: str, html: str) -> tuple[list[str], list[Form]]:
    parser = _PageParser()
    parser.feed(html)
    links = [urljoin(url, href) for href in parser.links]
    for form in parser.forms:
        form.page = url
        form.action = urljoin(url, form.action or url)
    return links, parser.forms


# Parameters that change what a page shows in kind; the others (period, tabs) only change values.
SHAPING_PARAMS = {"filters", "date", "q", "page", "cursor", "step", "from"}


def _kind(url: str) -> tuple:
    """A page and the shaping parameters it has: links that differ only in values show the same page."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted({name for name, _ in parse_qsl(parts.query)} & SHAPING_PARAMS))


def crawl(client, start: str = "/portal/", limit: int = 300) -> tuple[list[str], list[Form]]:
    """Every portal page reachable from `start` by links (one URL per kind of page), and every form seen."""
    seen_kinds, pages, forms, queue = set(), [], [], [start]
    while queue and len(pages) < limit:
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.netloc or not parts.path.startswith("/portal/") or _kind(url) in seen_kinds:
            continue
        seen_kinds.add(_kind(url))
        response = client.get(url)
        assert response.status_code == 200, f"{url} answered {response.status_code} to its member"
        pages.append(url)
        links, page_forms = page_links_and_forms(url, response.content.decode())
        forms += page_forms
        queue += [link.split("#")[0] for link in links]
    return pages, forms
