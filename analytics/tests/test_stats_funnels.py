"""Funnels on random traffic against a brute-force reading of their definition.

The walk must give what the definition gives, on traffic with ties, repeats,
events, long paths and visits outside the period. (The same funnels from the
rollups equal these raw answers: test_stats_rollups.py.)
"""

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.models import FUNNEL_PATH_MAX, Event, Pageview
from analytics.stats import funnel, stats_query_parse
from analytics.stats.funnels import Items, _walk_order
from analytics.tests.factories import EnvironmentFactory, EventFactory, PageviewFactory, SessionFactory, VisitorFactory

pytestmark = pytest.mark.django_db

LONG_PATH = "/" + "é" * FUNNEL_PATH_MAX
PATHS = ["/", "/pricing", "/signup", "/docs", LONG_PATH]
EVENTS = ["app.cta_clicked", "app.signup_started"]
PERIOD = {"period": "custom", "date": "2026-11-02,2026-11-15"}
FUNNELS = [
    ["/", "/pricing", "/signup"],
    ["/pricing", "/"],
    ["/", "/"],
    ["/", "/", "/"],
    ["/", "event:app.cta_clicked", "/signup", "event:app.signup_started"],
    ["event:app.cta_clicked", "/pricing"],
    ["event:app.cta_clicked", "event: app.cta_clicked"],
    [LONG_PATH, "/pricing"],
    ["/docs", "/pricing", "/", "/signup", "/docs", "/pricing", "/", "/signup"],
]


@pytest.fixture
def traffic():
    """Forty visitors with a few sessions each, over three weeks around the period."""
    generator = random.Random(7)
    environment = EnvironmentFactory()
    start = datetime(2026, 10, 30, tzinfo=UTC)
    for _ in range(40):
        visitor = VisitorFactory(environment=environment)
        for _ in range(generator.randint(1, 3)):
            moment = start + timedelta(minutes=generator.randrange(60 * 24 * 20))
            channel = generator.choice(["Direct", "Email"])
            session = SessionFactory(visitor=visitor, started_at=moment, last_activity_at=moment, channel=channel)
            for _ in range(generator.randint(1, 8)):
                # Whole hours apart or at the same moment: ties and window edges both happen.
                moment += timedelta(hours=generator.choice([0, 0, 1, 5, 30]))
                if generator.random() < 0.7:
                    PageviewFactory(session=session, timestamp=moment, path=generator.choice(PATHS))
                else:
                    EventFactory(session=session, timestamp=moment, name=generator.choice(EVENTS))
    return environment


def reference_counts(environment, steps: list[str], window: timedelta, query) -> list[int]:
    """Per step, the visitors with items i1 < … < ik (by time, pageviews before events, ID)
    matching steps 1..k inside the period, with ik at most `window` after i1."""
    matchers = [_matcher(step) for step in steps]
    items = {}
    pageviews = Pageview.objects.filter(environment=environment, timestamp__gte=query.start, timestamp__lt=query.end)
    for row in pageviews.values_list("visitor_id", "timestamp", "pk", "path", "session__channel"):
        items.setdefault(row[0], []).append((row[1], 0, row[2], "page", row[3], row[4]))
    events = Event.objects.filter(environment=environment, timestamp__gte=query.start, timestamp__lt=query.end)
    for row in events.values_list("visitor_id", "timestamp", "pk", "name", "session__channel"):
        items.setdefault(row[0], []).append((row[1], 1, row[2], "event", row[3], row[4]))
    wanted = query.filter_value("channel")
    counts = [0] * len(steps)
    for visitor_items in items.values():
        visitor_items = sorted(item for item in visitor_items if wanted is None or item[5] == wanted)
        for depth in range(len(steps)):
            if _has_chain(visitor_items, matchers[: depth + 1], window):
                counts[depth] += 1
    return counts


def _matcher(step: str):
    if step.startswith("event:"):
        return ("event", step[len("event:") :].strip())
    return ("page", step)


def _has_chain(items, matchers, window) -> bool:
    # From each possible first item, the earliest items that match the following steps end soonest.
    for first, item in enumerate(items):
        if item[3:5] != matchers[0]:
            continue
        position, last = first, item
        for matcher in matchers[1:]:
            position = next((i for i in range(position + 1, len(items)) if items[i][3:5] == matcher), None)
            if position is None:
                break
            last = items[position]
        if position is not None and last[0] - item[0] <= window:
            return True
    return False


@pytest.mark.parametrize("steps", FUNNELS)
@pytest.mark.parametrize("hours", [1, 6, 168])
def test_a_funnel_counts_what_its_definition_counts(traffic, steps, hours):
    query = stats_query_parse(environment=traffic, params=PERIOD)

    answer = funnel(query=query, steps=steps, window_hours=hours)

    assert [step["visitors"] for step in answer["steps"]] == reference_counts(
        traffic, steps, timedelta(hours=hours), query
    )


@pytest.mark.parametrize("steps", FUNNELS[:5])
def test_a_filtered_funnel_counts_what_its_definition_counts(traffic, steps):
    query = stats_query_parse(environment=traffic, params={**PERIOD, "filters": "channel==Email"})

    answer = funnel(query=query, steps=steps, window_hours=24)

    assert [step["visitors"] for step in answer["steps"]] == reference_counts(
        traffic, steps, timedelta(hours=24), query
    )


def test_at_the_same_moment_a_pageview_comes_before_an_event():
    environment = EnvironmentFactory()
    moment = datetime(2026, 11, 3, 12, tzinfo=UTC)
    session = SessionFactory(visitor=VisitorFactory(environment=environment), started_at=moment)
    # IDs from two tables say nothing about order: the event's is the smaller one here.
    EventFactory(id=900_001, session=session, timestamp=moment, name="app.cta_clicked")
    PageviewFactory(id=900_002, session=session, timestamp=moment, path="/pricing")
    query = stats_query_parse(environment=environment, params=PERIOD)

    page_first = funnel(query=query, steps=["/pricing", "event:app.cta_clicked"])
    event_first = funnel(query=query, steps=["event:app.cta_clicked", "/pricing"])

    assert [step["visitors"] for step in page_first["steps"]] == [1, 1]
    assert [step["visitors"] for step in event_first["steps"]] == [1, 0]


@pytest.mark.parametrize(
    "visitor_span, at_span",
    [
        (1_000, 10**9),  # visitor, time and kind fit one number
        (2**40, 2**30),  # visitor IDs far apart: ranked first
        (2**40, 2**62),  # times too far apart as well: four sort keys
    ],
)
@pytest.mark.parametrize("with_ties", [False, True])
def test_the_walk_order_is_visitor_time_kind_id_however_far_apart_the_values(visitor_span, at_span, with_ties):
    generator = np.random.default_rng(3)
    size = 2_000
    visitor = generator.integers(0, 50, size) * (visitor_span // 50)
    # With ties, a few dozen moments as far apart as the others: many items share one.
    at = generator.integers(0, 40, size) * (at_span // 40) if with_ties else generator.integers(0, at_span, size)
    items = Items(
        visitor=visitor,
        at=at,
        kind=generator.integers(0, 2, size),
        id=generator.permutation(size),
        label=np.zeros(size, dtype=np.int64),
    )

    order = _walk_order(items)

    assert np.array_equal(order, np.lexsort((items.id, items.kind, items.at, items.visitor)))
