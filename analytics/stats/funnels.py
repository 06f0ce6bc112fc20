"""Funnels: how many visitors did each step, in order, within a conversion window.

A step is a page path (`/pricing`) or `event:` + an event name (`event:app.trial_started`,
`event:user.created`). A visitor reaches step k when they did steps 1..k in that
order, each after the one before, with step k at most `window_hours` after step 1
(PostHog's and ClickHouse's `windowFunnel`). Steps happen inside the period; with
filters, only in sessions that match them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import BigIntegerField, F, Func, Q

from ascendkit_site.errors import ApplicationError

from ..models import Event, Pageview
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
