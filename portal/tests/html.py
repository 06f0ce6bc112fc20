"""Reading numbers back out of rendered pages: tables and lists by id, KPI cards, plain text."""

import re
from html import unescape
from html.parser import HTMLParser


class _Rows(HTMLParser):
    """Rows of the table (cell texts) or list (one text per item) with the given id."""

    def __init__(self, element_id: str):
        super().__init__()
        self.element_id = element_id
        self.depth = 0  # > 0 inside the wanted element
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("table", "ol", "ul") and (self.depth or dict(attrs).get("id") == self.element_id):
            self.depth += 1
        elif self.depth == 1 and tag == "tr":
            self.rows.append([])
        elif self.depth == 1 and tag in ("td", "th", "li"):
            if tag == "li":
                self.rows.append([])
            self._cell = []

    def handle_endtag(self, tag):
        if self.depth and tag in ("table", "ol", "ul"):
            self.depth -= 1
        elif self._cell is not None and tag in ("td", "th", "li"):
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows(html: str, element_id: str) -> list[list[str]]:
    """The cell texts of each row (header row included) of the table or list with this id."""
    parser = _Rows(element_id)
    parser.feed(html)
    return [row for row in parser.rows if row]


KPI = re.compile(
    r'data-metric="(?P<metric>\w+)">.*?class="kpi-value">(?P<value>.*?)</strong>.*?'
    r'class="kpi-change \w+"[^>]*>(?P<change>.*?)</span>.*?class="kpi-previous muted">was (?P<previous>.*?)</span>',
    re.DOTALL,
)


def kpis(html: str) -> dict[str, tuple[str, str, str]]:
    """{metric: (value, change, previous)} as the KPI row prints them."""
    return {
        m["metric"]: (unescape(m["value"]), unescape(m["change"]), unescape(m["previous"])) for m in KPI.finditer(html)
    }


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
