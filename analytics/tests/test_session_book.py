"""`SessionBook`, the one sessioniser, in memory: which session each item joins, and merges.

Times are minutes after 10:00 with a 30-minute timeout. Sessions that are not saved
yet fold without touching the database, so these cases need none.
"""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.enrichment.geo import Place
from analytics.enrichment.sources import PageUrl, Traffic
from analytics.enrichment.useragent import Device
from analytics.items import Client
from analytics.models import Session, Visitor
from analytics.services.sessions import PageVisit, SessionBook

START = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=30)
CLIENT = Client(
    device=Device(browser="Firefox", os="Linux", device_type="desktop", is_bot=False), place=Place("DE", "", "")
)


def at(minute: int) -> datetime:
    return START + timedelta(minutes=minute)


def visit(minute: int, path: str | None = None, source: str = "") -> PageVisit:
    page = PageUrl(
        hostname="example.com", path=path or f"/{minute}", utm_source="", utm_medium="", utm_campaign="",
        utm_term="", utm_content="", click_id="",
    )  # fmt: skip
    traffic = Traffic(
        referrer_host="", referrer_path="", referring_domain="", source=source, medium="", channel="Direct"
    )
    return PageVisit(at=at(minute), page=page, traffic=traffic)


def book(sessions: list[Session] | None = None) -> SessionBook:
    return SessionBook(visitor=Visitor(environment_id=1, pk=1), timeout=TIMEOUT, sessions=sessions or [])


def spans(book: SessionBook) -> list[tuple[int, int, int, int]]:
    """Each settled session as (start minute, last minute, pageviews, events)."""
    created, _ = book.settle()
    return [
        (int((s.started_at - START).total_seconds() // 60), int((s.last_activity_at - START).total_seconds() // 60),
         s.pageview_count, s.event_count)
        for s in sorted(created, key=lambda s: s.started_at)
    ]  # fmt: skip


@pytest.mark.parametrize(
    "pageview_minutes, expected",
    [
        ([0, 10, 20], [(0, 20, 3, 0)]),
        ([0, 30], [(0, 30, 2, 0)]),  # exactly the timeout apart: still one
        ([0, 31], [(0, 0, 1, 0), (31, 31, 1, 0)]),
        ([0, 40, 80], [(0, 0, 1, 0), (40, 40, 1, 0), (80, 80, 1, 0)]),
        # Out of order: the late one joins the session its time belongs to…
        ([40, 0, 20], [(0, 40, 3, 0)]),
        # …and one that closes the gap between two sessions merges them (a fold).
        ([0, 50, 25], [(0, 50, 3, 0)]),
        ([0, 50, 100, 25, 75], [(0, 100, 5, 0)]),
    ],
)
def test_pageviews_make_the_sessions_their_times_call_for(pageview_minutes, expected):
    sessions = book()
    for minute in pageview_minutes:
        sessions.add_pageview(visit(minute), CLIENT)
    assert spans(sessions) == expected


def test_a_fold_keeps_the_earlier_entry_and_the_later_exit():
    sessions = book()
    late = sessions.add_pageview(visit(50, "/late", source="Newsletter"), CLIENT)
    early = sessions.add_pageview(visit(0, "/early", source="Google"), CLIENT)
    bridge = sessions.add_pageview(visit(25, "/bridge"), CLIENT)

    (merged,), _ = sessions.settle()

    assert sessions.resolve(late) is sessions.resolve(early) is sessions.resolve(bridge) is merged
    assert (merged.entry_path, merged.exit_path, merged.source) == ("/early", "/late", "Google")
    assert merged.duration_seconds == 50 * 60 and not merged.is_bounce


@pytest.mark.parametrize(
    "event_minutes, expected",
    [
        ([5], [(0, 10, 2, 1)]),  # inside the session
        ([35], [(0, 35, 2, 1)]),  # within the timeout after it: it stretches the session
        ([-20], [(-20, 10, 2, 1)]),  # within the timeout before it
        ([45], [(0, 10, 2, 0)]),  # too far: no session to join, and none is started
    ],
)
def test_a_business_event_joins_a_session_and_never_starts_one(event_minutes, expected):
    sessions = book()
    sessions.add_pageview(visit(0), CLIENT)
    sessions.add_pageview(visit(10), CLIENT)
    joined = [sessions.join_event(at(minute)) for minute in event_minutes]

    assert spans(sessions) == expected
    assert (joined[0] is None) == (expected[0][3] == 0)


def test_a_business_event_that_bridges_two_sessions_merges_them():
    sessions = book()
    sessions.add_pageview(visit(0), CLIENT)
    sessions.add_pageview(visit(55), CLIENT)

    joined = sessions.join_event(at(28))

    assert spans(sessions) == [(0, 55, 2, 1)]
    assert sessions.resolve(joined).pageview_count == 2


def test_a_bounce_is_one_pageview_and_no_event():
    single = book()
    single.add_pageview(visit(0), CLIENT)
    with_event = book()
    with_event.add_pageview(visit(0), CLIENT)
    with_event.add_event(at(1), CLIENT)

    assert [s.is_bounce for s in single.settle()[0]] == [True]
    assert [s.is_bounce for s in with_event.settle()[0]] == [False]
