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

from ascendkit_site.errors import ApplicationError

from .query import StatsQuery
from .scope import pageviews_in

DEFAULT_STEPS = 3
MAX_STEPS = 5
OTHER = "(other)"


def page_flows(*, query: StatsQuery, from_page: str | None = None, steps: int = DEFAULT_STEPS) -> dict:
    """{"nodes": [{"id", "step", "page"}], "links": [{"source", "target", "visitors"}],
    "dropoffs": [{"node", "visitors"}]}."""
    if not isinstance(steps, int) or not 2 <= steps <= MAX_STEPS:
        raise ApplicationError("invalid_steps", f"Page flows follow 2 to {MAX_STEPS} steps, not '{steps}'.")
    if from_page is not None and not from_page.startswith("/"):
        raise ApplicationError("invalid_page", f"The page '{from_page}' is not a path starting with /.")
    paths = [_flow_of(pages, from_page, steps) for pages in _session_pages(query)]
    return flows_from_paths([path for path in paths if path], steps=steps, limit=query.limit)


def _session_pages(query: StatsQuery):
    """Each matching session's pages in time order, reloads collapsed."""
    rows = pageviews_in(query, whole_sessions=True).order_by("session_id", "timestamp", "pk")
    current, pages = None, []
    for session_id, path in rows.values_list("session_id", "path").iterator(chunk_size=5000):
        if session_id != current:
            if pages:
                yield pages
            current, pages = session_id, []
        if not pages or pages[-1] != path:
            pages.append(path)
    if pages:
        yield pages


def _flow_of(pages: list[str], from_page: str | None, steps: int) -> list[str]:
    if from_page is None:
        return pages[: steps + 1]
    try:
        start = pages.index(from_page)
    except ValueError:
        return []
    return pages[start : start + steps + 1]


def flows_from_paths(paths: list[list[str]], *, steps: int, limit: int) -> dict:
    """Nodes, links and drop-offs from each session's first `steps` pages (+1 to see who left)."""
    kept: list[set[str]] = []
    for step in range(steps):
        counts = Counter(path[step] for path in paths if len(path) > step)
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
        kept.append({page for page, _ in top})

    def node(step: int, page: str) -> str:
        return f"{step + 1}:{page if page in kept[step] else OTHER}"

    nodes, links, dropoffs = {}, Counter(), Counter()
    for path in paths:
        for step in range(min(steps, len(path))):
            here = node(step, path[step])
            nodes.setdefault(here, (step + 1, here.split(":", 1)[1]))
            if step + 1 < steps and len(path) > step + 1:
                links[(here, node(step + 1, path[step + 1]))] += 1
            elif len(path) == step + 1:
                dropoffs[here] += 1
    node_weight = Counter()
    for path in paths:
        for step in range(min(steps, len(path))):
            node_weight[node(step, path[step])] += 1
    return {
        "nodes": [
            {"id": node_id, "step": step, "page": page}
            for node_id, (step, page) in sorted(
                nodes.items(), key=lambda item: (item[1][0], -node_weight[item[0]], item[1][1])
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
