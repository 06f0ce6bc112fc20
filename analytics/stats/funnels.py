"""Funnels: how many visitors did each step, in order, within a conversion window.

A step is a page path (`/pricing`) or `event:` + an event name (`event:app.trial_started`,
`event:user.created`). A visitor reaches step k when they did steps 1..k in that
order, each after the one before, with step k at most `window_hours` after step 1
(PostHog's and ClickHouse's `windowFunnel`). Steps happen inside the period; with
filters, only in sessions that match them.

On PostgreSQL the database walks the visitors' items itself, in one statement that
returns the counts; elsewhere (SQLite) Python walks them, with the same answer.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import BigIntegerField, Case, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from ascendkit_site.errors import ApplicationError

from ..models import FUNNEL_PATH_MAX, Event, Pageview
from .memory import with_report_memory
from .metrics import rate
from .query import StatsQuery
from .scope import session_conditions

EVENT_PREFIX = "event:"
MIN_STEPS, MAX_STEPS = 2, 8
DEFAULT_WINDOW_HOURS = 168
MAX_WINDOW_HOURS = 24 * 90
STEP_MAX_LENGTH = 2048
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class EpochMicroseconds(Func):
    """A time as whole microseconds since 1970 (PostgreSQL, exact: EXTRACT gives a numeric).

    A funnel walks hundreds of thousands of items; an integer costs far less to fetch
    than a time-zone-aware datetime.
    """

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


@dataclass(frozen=True)
class FunnelStep:
    label: str
    path: str = ""
    event: str = ""


def funnel_steps_parse(steps) -> list[FunnelStep]:
    """Steps as given (a comma-separated string or a list), validated."""
    if isinstance(steps, str):
        steps = [part for part in steps.split(",")]
    labels = [str(step).strip() for step in steps]
    if not MIN_STEPS <= len(labels) <= MAX_STEPS:
        raise ApplicationError("invalid_steps", f"A funnel has {MIN_STEPS} to {MAX_STEPS} steps, not {len(labels)}.")
    parsed = []
    for label in labels:
        if len(label) > STEP_MAX_LENGTH:
            raise ApplicationError("invalid_steps", "A funnel step is too long.")
        if label.startswith(EVENT_PREFIX) and label[len(EVENT_PREFIX) :].strip():
            parsed.append(FunnelStep(label=label, event=label[len(EVENT_PREFIX) :].strip()))
        elif label.startswith("/"):
            parsed.append(FunnelStep(label=label, path=label))
        else:
            raise ApplicationError(
                "invalid_steps", f"The funnel step '{label}' is neither a page path (/…) nor event:<name>."
            )
    return parsed


def funnel_window_parse(text: str | None) -> int:
    if text is None or not str(text).strip():
        return DEFAULT_WINDOW_HOURS
    text = str(text).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_WINDOW_HOURS:
        raise ApplicationError(
            "invalid_window", f"The window '{text}' is not a number of hours from 1 to {MAX_WINDOW_HOURS}."
        )
    return int(text)


@with_report_memory
def funnel(*, query: StatsQuery, steps, window_hours: int = DEFAULT_WINDOW_HOURS) -> dict:
    """{"steps": [{"step", "visitors", "conversion_rate", "drop_off"}]}, step 1 first."""
    parsed = funnel_steps_parse(steps)
    if not 1 <= int(window_hours) <= MAX_WINDOW_HOURS:
        raise ApplicationError("invalid_window", f"The window must be 1 to {MAX_WINDOW_HOURS} hours.")
    if connection.vendor == "postgresql":
        reached = _reached_counts_in_database(query, parsed, int(window_hours))
    else:
        reached = _reached_counts(query, parsed, timedelta(hours=int(window_hours)) // MICROSECOND)
    first = reached[0]
    answer = []
    for index, step in enumerate(parsed):
        answer.append(
            {
                "step": step.label,
                "visitors": reached[index],
                "conversion_rate": rate(reached[index], first) if index else (100.0 if first else 0.0),
                "drop_off": reached[index - 1] - reached[index] if index else 0,
            }
        )
    return {"steps": answer}


def _reached_counts(query: StatsQuery, steps: list[FunnelStep], window: int) -> list[int]:
    """Visitors that reached at least each step.

    Everyone with a first step reached it, which the database counts; only visitors
    who also did the second step can go further, so only their items are walked.
    """
    first, second = _step_items(query, steps[0]), _step_items(query, steps[1])
    counts = [first.values("visitor_id").distinct().count()] + [0] * (len(steps) - 1)
    candidates = Q(visitor_id__in=first.values("visitor_id")) & Q(visitor_id__in=second.values("visitor_id"))
    for _, matches in _visitor_matches(query, steps, candidates):
        depth = _deepest_step(matches, len(steps), window)
        for index in range(1, depth):
            counts[index] += 1
    return counts


def _step_items(query: StatsQuery, step: FunnelStep):
    """The pageviews or events of one step inside the period (and the filters)."""
    if step.path:
        return Pageview.objects.filter(_in_period(query), path=step.path)
    return Event.objects.filter(_in_period(query), name=step.event, visitor__isnull=False)


def _in_period(query: StatsQuery) -> Q:
    # Every filter, `page` and `event` included, keeps whole sessions here.
    matching = session_conditions(query, "session__") if query.filters else Q()
    return Q(matching, environment=query.environment, timestamp__gte=query.start, timestamp__lt=query.end)


def _deepest_step(matches, step_count: int, window: int) -> int:
    """How far one visitor got: `matches` are (time, step indexes) in time order, times and
    `window` in microseconds.

    For each step, keep the latest start (time of step 1) of any chain reaching it:
    a later start leaves the most room in the window for the steps that follow.
    Steps an item matches are tried from the last one down, so one pageview never
    counts for two consecutive steps.
    """
    latest_start: list = [None] * step_count
    for at, indexes in matches:
        for index in sorted(indexes, reverse=True):
            if index == 0:
                latest_start[0] = at
            else:
                start = latest_start[index - 1]
                reachable = start is not None and at - start <= window
                if reachable and (latest_start[index] is None or start > latest_start[index]):
                    latest_start[index] = start
    return max((index + 1 for index, start in enumerate(latest_start) if start is not None), default=0)


def _timed(items):
    """Items with `at`: their time, in microseconds since 1970 on PostgreSQL (else a datetime)."""
    if connection.vendor == "postgresql":
        return items.annotate(at=EpochMicroseconds("timestamp"))
    return items.annotate(at=F("timestamp"))


def _visitor_matches(query: StatsQuery, steps: list[FunnelStep], candidates: Q):
    """Per candidate visitor, in time order, the items that match a step: (time, step indexes)."""
    paths = {step.path for step in steps if step.path}
    names = {step.event for step in steps if step.event}
    rows = []
    if paths:
        pageviews = Pageview.objects.filter(_in_period(query), candidates, path__in=paths)
        rows += [
            (visitor, at, 0, pk, path, "")
            for visitor, at, pk, path in _timed(pageviews).values_list("visitor_id", "at", "pk", "path")
        ]
    if names:
        events = Event.objects.filter(_in_period(query), candidates, name__in=names, visitor__isnull=False)
        rows += [
            (visitor, at, 1, pk, "", name)
            for visitor, at, pk, name in _timed(events).values_list("visitor_id", "at", "pk", "name")
        ]
    if connection.vendor != "postgresql":
        rows = [(visitor, (at - EPOCH) // MICROSECOND, *rest) for visitor, at, *rest in rows]
    rows.sort(key=lambda row: row[:4])
    current, matches = None, []
    for visitor, at, _, _, path, name in rows:
        if visitor != current:
            if current is not None:
                yield current, matches
            current, matches = visitor, []
        indexes = [i for i, step in enumerate(steps) if (path and step.path == path) or (name and step.event == name)]
        matches.append((at, indexes))
    if current is not None:
        yield current, matches


def _reached_counts_in_database(query: StatsQuery, steps: list[FunnelStep], window_hours: int) -> list[int]:
    """Visitors that reached at least each step, counted by PostgreSQL in one statement.

    The walk of `_deepest_step` as window functions over each visitor's items in
    (time, pageviews before events, ID) order; the steps' pageviews come from the
    funnel index alone. Steps are numbered from 0 here. `before_k` on an item is the
    start (the step-0 time) of the latest chain of steps 0..k-1 made of items strictly
    before it: the latest step-0 time for k = 1, else the largest `before_k-1` of an
    earlier step-(k-1) item. Starts only grow along a visitor's items, so that chain
    also leaves the most room in the window: a visitor reached step k when one of its
    step-k items is within the window of its `before_k`. Looking only at earlier
    items, one item never counts for two consecutive steps.
    """
    # Steps of the same page or event share a label: an item matches all of them.
    labels = {key: number for number, key in enumerate(dict.fromkeys(map(_matched, steps)))}
    step_labels = [labels[_matched(step)] for step in steps]
    items_sql, params = _labelled_items_sql(query, steps, labels)
    both_kinds = any(step.path for step in steps) and any(step.event for step in steps)
    earlier = (
        f"OVER (PARTITION BY visitor_key ORDER BY {'at, item_kind, item_id' if both_kinds else 'at, item_id'} "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    # Only integers made here are written into the statement; the items' values stay parameters.
    walked = items_sql
    for index in range(1, len(steps)):
        start = "at" if index == 1 else f"before_{index - 1}"
        walked = (
            f"SELECT *, MAX(CASE WHEN label = {step_labels[index - 1]:d} THEN {start} END) {earlier} "
            f"AS before_{index} FROM ({walked}) AS level_{index - 1}"
        )
    reached = [f"BOOL_OR(label = {step_labels[0]:d}) AS reached_0"] + [
        f"BOOL_OR(label = {step_labels[index]:d} AND at - before_{index} <= INTERVAL '{window_hours:d} hours') "
        f"AS reached_{index}"
        for index in range(1, len(steps))
    ]
    counts = ", ".join(f"COUNT(*) FILTER (WHERE reached_{index})" for index in range(len(steps)))
    sql = (
        f"SELECT {counts} FROM (SELECT {', '.join(reached)} FROM ({walked}) AS walked GROUP BY visitor_key) AS visitors"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchone())


def _labelled_items_sql(query: StatsQuery, steps: list[FunnelStep], labels: dict) -> tuple[str, list]:
    """SQL of the period's items that match a step: visitor_key, at, item_kind (0 a pageview,
    1 an event), item_id and label (the number of the page or event it is)."""
    parts, params = [], []
    paths = list(dict.fromkeys(step.path for step in steps if step.path))
    names = list(dict.fromkeys(step.event for step in steps if step.event))
    if paths:
        pageviews = Pageview.objects.filter(_in_period(query), path__in=paths)
        if all(len(path) <= FUNNEL_PATH_MAX for path in paths):
            # Says what the funnel index holds, so that the planner reads the index alone.
            pageviews = pageviews.filter(LessThanOrEqual(Length("path"), FUNNEL_PATH_MAX))
        parts.append(_items_values(pageviews, 0, _label("path", "page", paths, labels)))
    if names:
        events = Event.objects.filter(_in_period(query), name__in=names, visitor__isnull=False)
        parts.append(_items_values(events, 1, _label("name", "event", names, labels)))
    compiled = [part.query.sql_with_params() for part in parts]
    for _, part_params in compiled:
        params.extend(part_params)
    return " UNION ALL ".join(f"({sql})" for sql, _ in compiled), params


def _label(field: str, kind: str, values: list[str], labels: dict) -> Case:
    whens = [When(**{field: value}, then=Value(labels[(kind, value)])) for value in values]
    return Case(*whens, output_field=IntegerField())


def _items_values(items, kind: int, label):
    return items.annotate(
        visitor_key=F("visitor_id"), at=F("timestamp"), item_kind=Value(kind), item_id=F("pk"), label=label
    ).values_list("visitor_key", "at", "item_kind", "item_id", "label")


def _matched(step: FunnelStep) -> tuple[str, str]:
    return ("page", step.path) if step.path else ("event", step.event)
