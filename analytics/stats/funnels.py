"""Funnels: how many visitors did each step, in order, within a conversion window.

A step is a page path (`/pricing`) or `event:` + an event name (`event:app.trial_started`,
`event:user.created`). A visitor reaches step k when they did steps 1..k in that
order, each after the one before, with step k at most `window_hours` after step 1
(PostHog's and ClickHouse's `windowFunnel`). Steps happen inside the period; with
filters, only in sessions that match them.

The steps' items come from the funnel rollups when the report may read them
(`rollup_usable`: PostgreSQL, no filters, whole days), else from the raw rows; either
way they arrive as arrays, and numpy walks every visitor at once (`_reached_counts`).
A month of a busy site is hundreds of thousands of items: walked row by row, in SQL
window functions or in Python, they took seconds.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from ascendkit_site.errors import ApplicationError

from ..models import FUNNEL_PATH_MAX, Event, Pageview, RollupTrail
from .epoch import EPOCH, MICROSECOND
from .memory import with_report_memory
from .metrics import rate
from .packed import ITEM, ITEM_BYTES, packed_fetch
from .query import StatsQuery
from .rollups import rollup_trails, rollup_usable
from .scope import session_conditions

EVENT_PREFIX = "event:"
MIN_STEPS, MAX_STEPS = 2, 8
DEFAULT_WINDOW_HOURS = 168
MAX_WINDOW_HOURS = 24 * 90
STEP_MAX_LENGTH = 2048


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
    # Steps of the same page or event share a label: an item matches all of them.
    keys = list(dict.fromkeys(map(_matched, parsed)))
    items = _rollup_items(query, keys) if rollup_usable(query) else _raw_items(query, keys)
    window = timedelta(hours=int(window_hours)) // MICROSECOND
    reached = _reached_counts(items, [keys.index(_matched(step)) for step in parsed], window)
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


def _matched(step: FunnelStep) -> tuple[int, str]:
    """What an item must be to match the step: (RollupTrail.Kind, path or event name)."""
    return (RollupTrail.Kind.PAGEVIEW, step.path) if step.path else (RollupTrail.Kind.EVENT, step.event)


class Items(NamedTuple):
    """A funnel's items, one array per column, in any order."""

    visitor: np.ndarray
    at: np.ndarray  # microseconds since 1970
    kind: np.ndarray  # RollupTrail.Kind: at the same moment a pageview comes before an event
    id: np.ndarray
    label: np.ndarray  # the index of the item's page or event in the funnel's keys


_POSTGRESQL_EPOCH_MICROSECONDS = (datetime(2000, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND


def _rollup_items(query: StatsQuery, keys: list[tuple[int, str]]) -> Items:
    """The period's items of each key, from the packed days of RollupTrail."""
    return _unpacked(keys, rollup_trails(query, keys))


def _raw_items(query: StatsQuery, keys: list[tuple[int, str]]) -> Items:
    """The period's items of each key (with filters, of the matching sessions) from the raw rows."""
    paths = [key for kind, key in keys if kind == RollupTrail.Kind.PAGEVIEW]
    names = [key for kind, key in keys if kind == RollupTrail.Kind.EVENT]
    parts = []
    if paths:
        pageviews = Pageview.objects.filter(_in_period(query), path__in=paths)
        if all(len(path) <= FUNNEL_PATH_MAX for path in paths):
            # Says what the funnel index holds, so that the planner reads the index alone.
            pageviews = pageviews.filter(LessThanOrEqual(Length("path"), FUNNEL_PATH_MAX))
        parts.append((RollupTrail.Kind.PAGEVIEW, pageviews.values_list("path", "visitor_id", "timestamp", "pk")))
    if names:
        events = Event.objects.filter(_in_period(query), name__in=names, visitor__isnull=False)
        parts.append((RollupTrail.Kind.EVENT, events.values_list("name", "visitor_id", "timestamp", "pk")))
    if connection.vendor == "postgresql":
        return _unpacked(keys, _packed_by_key(parts))
    labels = {key: label for label, key in enumerate(keys)}
    rows = [
        (visitor, (at - EPOCH) // MICROSECOND, kind, pk, labels[kind, key])
        for kind, items in parts
        for key, visitor, at, pk in items
    ]
    return Items(*np.array(rows, dtype=np.int64).reshape(-1, 5).T)


def _packed_by_key(parts) -> dict[tuple[int, str], list[bytes]]:
    """Each key's items packed by PostgreSQL, as RollupTrail holds them: one fetch, no row per item."""
    packed = {}
    for kind, items in parts:
        sql, params = items.query.sql_with_params()
        grouped = (
            f"SELECT key, string_agg({ITEM}, ''::bytea) "
            f"FROM ({sql}) AS items (key, visitor_id, timestamp, id) GROUP BY key"
        )
        for key, packed_items in packed_fetch(grouped, params):
            packed[kind, key] = [packed_items]
    return packed


def _unpacked(keys: list[tuple[int, str]], packed: dict[tuple[int, str], list[bytes]]) -> Items:
    """Items from packed parts per key (see packed.py), labelled by their key's index."""
    parts = [packed.get(key, []) for key in keys]
    stored = np.frombuffer(b"".join(b"".join(chunks) for chunks in parts), dtype=">i8").reshape(-1, 3)
    sizes = [sum(len(chunk) for chunk in chunks) // ITEM_BYTES for chunks in parts]
    return Items(
        visitor=stored[:, 0].astype(np.int64),
        at=stored[:, 1].astype(np.int64) + _POSTGRESQL_EPOCH_MICROSECONDS,
        kind=np.repeat([kind for kind, _ in keys], sizes),
        id=stored[:, 2].astype(np.int64),
        label=np.repeat(np.arange(len(keys)), sizes),
    )


def _in_period(query: StatsQuery) -> Q:
    # Every filter, `page` and `event` included, keeps whole sessions here.
    matching = session_conditions(query, "session__") if query.filters else Q()
    return Q(matching, environment=query.environment, timestamp__gte=query.start, timestamp__lt=query.end)


def _reached_counts(items: Items, step_labels: list[int], window: int) -> list[int]:
    """Visitors that reached at least each step; `window` in microseconds.

    A visitor reaches step k when one of its step-k items comes after a chain of
    items of steps 0..k-1, each after the one before, and at most `window` after
    the chain's first item (its start). For each item the walk keeps the latest
    start of a chain of the steps before it that ends before the item: a later
    start leaves the most room in the window, and starts only grow along a
    visitor's items. Only earlier items carry a chain, so one item never counts
    for two consecutive steps.

    All visitors are walked at once. Items are sorted by (visitor, time, kind, ID),
    and a start is carried as its position in that order: a running maximum over
    the whole array is then one over the visitor's own earlier items, once the
    positions of earlier visitors (smaller than the visitor's first) are dropped.
    """
    if not len(items.id):
        return [0] * len(step_labels)
    order = _walk_order(items)
    visitor, at, label = items.visitor[order], items.at[order], items.label[order]
    position = np.arange(len(order))
    first_of_visitor = np.ones(len(order), dtype=bool)
    first_of_visitor[1:] = visitor[1:] != visitor[:-1]
    visitor_first = np.maximum.accumulate(np.where(first_of_visitor, position, 0))

    reached = label == step_labels[0]
    starts = np.where(reached, position, -1)  # an item of step 0 starts its own chain
    counts = [_visitors_among(visitor, reached)]
    for previous_label, step_label in zip(step_labels, step_labels[1:], strict=False):
        carried = np.where(label == previous_label, starts, -1)
        before = np.full(len(order), -1)
        np.maximum.accumulate(carried[:-1], out=before[1:])
        before[before < visitor_first] = -1
        reached = (label == step_label) & (before >= 0)
        reached[reached] = at[reached] - at[before[reached]] <= window
        counts.append(_visitors_among(visitor, reached))
        starts = before
    return counts


def _walk_order(items: Items) -> np.ndarray:
    """Positions of the items in (visitor, time, kind, ID) order.

    Sorting by four keys costs several times what one key does, so, when visitor,
    time and kind fit in one 63-bit number, the items are sorted by that number; in
    ID order first, and then stably, only when two of them share one.
    """
    visitor, at, kind = items.visitor, items.at, items.kind
    visitor_span, at_span = int(visitor.max() - visitor.min()), int(at.max() - at.min())
    if visitor_span.bit_length() + at_span.bit_length() + 1 > 63:
        _, visitor = np.unique(visitor, return_inverse=True)  # dense: 0, 1, … in visitor order
        visitor_span = int(visitor.max())
    shift = at_span.bit_length() + 1
    if visitor_span.bit_length() + shift > 63:
        return np.lexsort((items.id, kind, at, visitor))
    key = (visitor - visitor.min()) << shift | (at - at.min()) << 1 | kind
    order = np.argsort(key)
    in_order = key[order]
    if not np.any(in_order[1:] == in_order[:-1]):
        return order
    # Items of one visitor at one moment: their IDs decide.
    by_id = np.argsort(items.id)
    return by_id[np.argsort(key[by_id], kind="stable")]


def _visitors_among(visitor: np.ndarray, chosen: np.ndarray) -> int:
    """Distinct visitors of the chosen items; `visitor` is sorted."""
    ids = visitor[chosen]
    return int(len(ids) and 1 + np.count_nonzero(ids[1:] != ids[:-1]))
