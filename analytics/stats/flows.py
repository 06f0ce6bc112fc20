"""Page flows: where sessions go, page after page, from a page or from their entry.

Each session of the period (that matches the filters) is read as its sequence of
pages in time order, a page repeated right after itself counted once (a reload).
With `from_page` the flow starts at the session's first view of that page, else
at its entry page; it follows `steps` pages (at most 5). The top pages of each
step (the query's limit) keep their own node, the rest are merged into
"(other)". Counts are sessions: a visitor who came twice counts in each visit.
A drop-off is the sessions that left the site at a node.
"""

from collections import Counter

from django.db import connection
from django.db.models import F

from ascendkit_site.errors import ApplicationError

from .memory import with_report_memory
from .query import StatsQuery
from .rollups import rollup_flow_steps, rollup_usable
from .scope import pageviews_in

DEFAULT_STEPS = 3
MAX_STEPS = 5
OTHER = "(other)"


@with_report_memory
def page_flows(*, query: StatsQuery, from_page: str | None = None, steps: int = DEFAULT_STEPS) -> dict:
    """{"nodes": [{"id", "step", "page"}], "links": [{"source", "target", "visitors"}],
    "dropoffs": [{"node", "visitors"}]}."""
    if not isinstance(steps, int) or not 2 <= steps <= MAX_STEPS:
        raise ApplicationError("invalid_steps", f"Page flows follow 2 to {MAX_STEPS} steps, not '{steps}'.")
    if from_page is not None and not from_page.startswith("/"):
        raise ApplicationError("invalid_page", f"The page '{from_page}' is not a path starting with /.")
    if rollup_usable(query):
        counts = rollup_flow_steps(query, from_page)
    else:
        counts = flow_steps_of(_flow_counts(query, from_page))
    return flows_from_steps(counts, steps=steps, limit=query.limit)


# The database does the walking (PostHog's paths query): number each session's pages
# in time order after dropping a page that repeats the one before it, find where the
# flow starts (the entry, or the first view of the chosen page), and count the
# sessions per sequence of the next pages. Only the distinct sequences come back.
FLOW_SEQUENCES_SQL = """
WITH viewed AS (
    SELECT matching.session_id, matching.path, matching.viewed_at, matching.id,
           LAG(matching.path) OVER (
               PARTITION BY matching.session_id ORDER BY matching.viewed_at, matching.id
           ) AS previous_path
    FROM ({matching}) AS matching
),
pages AS (
    SELECT session_id, path,
           ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY viewed_at, id) AS position
    FROM viewed
    WHERE previous_path IS NULL OR previous_path <> path
),
started AS (
    SELECT session_id, path, position,
           CASE WHEN %s = 0 THEN 1
                ELSE MIN(CASE WHEN path = %s THEN position END) OVER (PARTITION BY session_id)
           END AS first_position
    FROM pages
),
flows AS (
    SELECT session_id,
           MAX(CASE WHEN position = first_position THEN path END) AS page_1,
           MAX(CASE WHEN position = first_position + 1 THEN path END) AS page_2,
           MAX(CASE WHEN position = first_position + 2 THEN path END) AS page_3,
           MAX(CASE WHEN position = first_position + 3 THEN path END) AS page_4,
           MAX(CASE WHEN position = first_position + 4 THEN path END) AS page_5,
           MAX(CASE WHEN position = first_position + 5 THEN path END) AS page_6
    FROM started
    WHERE position BETWEEN first_position AND first_position + 5
    GROUP BY session_id
)
SELECT page_1, page_2, page_3, page_4, page_5, page_6, COUNT(*) FROM flows
GROUP BY page_1, page_2, page_3, page_4, page_5, page_6
"""


def _flow_counts(query: StatsQuery, from_page: str | None) -> list[tuple[list[str], int]]:
    """(the flow's pages, how many sessions took it), one entry per distinct sequence."""
    matching = pageviews_in(query, whole_sessions=True).values("session_id", "path", "id", viewed_at=F("timestamp"))
    matching_sql, matching_params = matching.query.sql_with_params()
    starting = 0 if from_page is None else 1
    sql = FLOW_SEQUENCES_SQL.replace("{matching}", matching_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*matching_params, starting, from_page or ""])
        rows = cursor.fetchall()
    counted = []
    for row in rows:
        pages = [page for page in row[:-1] if page is not None]
        counted.append((pages, row[-1]))
    return counted


def flow_steps_of(paths: list[tuple[list[str], int]]) -> Counter:
    """Sessions per (step from 0, page, next page or None when the session left there).

    Nodes, links and drop-offs need no more of a sequence than each page and the one
    after it, which is also what the rollups store per day.
    """
    counts = Counter()
    for pages, sessions in paths:
        for step in range(min(MAX_STEPS, len(pages))):
            following = pages[step + 1] if len(pages) > step + 1 else None
            counts[(step, pages[step], following)] += sessions
    return counts


def flows_from_steps(counts: Counter, *, steps: int, limit: int) -> dict:
    """Nodes, links and drop-offs of the first `steps` pages from `flow_steps_of`'s counts."""
    kept: list[set[str]] = []
    for step in range(steps):
        viewed = Counter()
        for (at, page, _), sessions in counts.items():
            if at == step:
                viewed[page] += sessions
        top = sorted(viewed.items(), key=lambda item: (-item[1], item[0]))[:limit]
        kept.append({page for page, _ in top})

    def node(step: int, page: str) -> str:
        return f"{step + 1}:{page if page in kept[step] else OTHER}"

    weights, links, dropoffs = Counter(), Counter(), Counter()
    for (step, page, following), sessions in counts.items():
        if step >= steps:
            continue
        here = node(step, page)
        weights[here] += sessions
        if following is None:
            dropoffs[here] += sessions
        elif step + 1 < steps:
            links[(here, node(step + 1, following))] += sessions
    return {
        "nodes": [
            {"id": node_id, "step": int(node_id.split(":", 1)[0]), "page": node_id.split(":", 1)[1]}
            for node_id in sorted(
                weights, key=lambda node_id: (int(node_id.split(":", 1)[0]), -weights[node_id], node_id)
            )
        ],
        "links": [
            {"source": source, "target": target, "visitors": count}
            for (source, target), count in sorted(links.items(), key=lambda item: (-item[1], item[0]))
        ],
        "dropoffs": [
            {"node": node_id, "visitors": count}
            for node_id, count in sorted(dropoffs.items(), key=lambda item: (-item[1], item[0]))
        ],
    }
