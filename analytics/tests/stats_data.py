"""A small hand-made traffic set whose every number is worked out by hand.

The week of 2026-11-02 (Monday) to 2026-11-08, in UTC unless a test moves the
environment's time zone; one session in the week before, for comparisons.

- S1, V1, 11-02 10:00, Direct: / at 0 s, /pricing 60, /signup 180; app.cta_clicked at 30.
- S2, V2, 11-02 11:00, Organic Search (Google): /blog/a (a bounce).
- S3, V2, 11-03 09:00, Direct: / at 0, /pricing at 120.
- S4, V3, 11-03 12:00, Referral (Hacker News): /pricing (a bounce).
- S5, V4, 11-04 08:00, Paid Search (utm google / cpc / brand): / at 0, / at 10 (a reload),
  /pricing at 60; app.pricing_toggled at 90.
- S0, V5, 10-30 15:00, Direct: / (a bounce), the week before.

U1 signs up on V1 at 11-02 10:03:30 (signup session S1), U2 on V4 at 11-04 08:01:40
(S5), U3 (waitlisted, no visitor) is created 11-05 12:00.

Week totals: visitors 4, sessions 5, pageviews 10, views per session 2.0, bounce
rate 40.0 (S2, S4), visit duration (180+0+120+0+90)/5 = 78, signups 3, conversion
75.0, events 2. The week before: one visitor, one bounced session.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from analytics.models import Attribution, Event, Pageview, Session, Visitor
from identity.models import EndUser, Environment

from .factories import EndUserFactory, EventFactory, PageviewFactory, SessionFactory, VisitorFactory

WEEK = {"period": "custom", "date": "2026-11-02,2026-11-08"}
DIRECT = {"channel": "Direct"}
GOOGLE = {"channel": "Organic Search", "source": "Google", "referrer_host": "www.google.com", "medium": "organic"}
HACKER_NEWS = {"channel": "Referral", "source": "Hacker News", "referrer_host": "news.ycombinator.com"}
GOOGLE_ADS = {
    "channel": "Paid Search",
    "source": "google",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "brand",
}
DESKTOP_DE = {"browser": "Chrome", "os": "Mac OS X", "device_type": "desktop", "country": "DE", "city": "Berlin"}
PHONE_US = {"browser": "Mobile Safari", "os": "iOS", "device_type": "mobile", "country": "US", "city": "New York"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Traffic:
    environment: Environment
    visitors: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)


def visit(visitor: Visitor, start: datetime, pages, *, events=(), **traffic) -> Session:
    """A session as ingestion leaves it: counts, duration, bounce, entry and exit, copied traffic."""
    moments = [start + timedelta(seconds=offset) for offset, _ in pages]
    event_moments = [start + timedelta(seconds=offset) for offset, _ in events]
    last = max(moments + event_moments)
    session = SessionFactory(
        visitor=visitor,
        started_at=start,
        last_activity_at=last,
        duration_seconds=int((last - start).total_seconds()),
        pageview_count=len(pages),
        event_count=len(events),
        is_bounce=len(pages) == 1 and not events,
        first_pageview_at=moments[0],
        last_pageview_at=moments[-1],
        entry_path=pages[0][1],
        exit_path=pages[-1][1],
        **traffic,
    )
    copied = {k: v for k, v in traffic.items() if k not in ("medium", "referrer_host")}
    for moment, (_, path) in zip(moments, pages, strict=True):
        PageviewFactory(session=session, timestamp=moment, path=path, **copied)
    for moment, (_, name) in zip(event_moments, events, strict=True):
        EventFactory(session=session, timestamp=moment, name=name)
    return session


def sign_up(environment: Environment, visitor: Visitor | None, session: Session | None, created: datetime, **extra):
    """A user created at `created`, linked to the visitor, with its touches as stitching leaves them."""
    user = EndUserFactory(environment=environment, created_at=created, **extra)
    if visitor is None:
        return user
    Visitor.objects.filter(pk=visitor.pk).update(user=user, linked_at=created, stitched_at=created)
    for model in (Session, Pageview, Event):
        model.objects.filter(visitor=visitor).update(user=user)
    # The user's first touch is their visitor's (read through Visitor.user); the signup touch is theirs.
    Attribution.objects.filter(visitor=visitor, kind=Attribution.Kind.FIRST_TOUCH).update(user=user)
    Attribution.objects.create(
        environment=environment,
        kind=Attribution.Kind.SIGNUP_TOUCH,
        user=user,
        visitor=visitor,
        session=session,
        channel=session.channel,
        source=session.source,
        campaign=session.utm_campaign,
        landing_page=session.entry_path,
        at=session.started_at,
    )
    Event.objects.create(
        environment=environment,
        public_id=f"evt_builtin{user.pk}",
        message_id=f"builtin{user.pk}",
        kind=Event.Kind.BUILTIN,
        name="user.created",
        timestamp=created,
        user=user,
        visitor=visitor,
    )
    user.refresh_from_db()
    return user


def first_touch(visitor: Visitor, session: Session) -> Attribution:
    return Attribution.objects.create(
        environment=visitor.environment,
        kind=Attribution.Kind.FIRST_TOUCH,
        visitor=visitor,
        channel=session.channel,
        source=session.source,
        campaign=session.utm_campaign,
        landing_page=session.entry_path,
        at=session.started_at,
        session=session,
    )


def build_traffic(environment: Environment) -> Traffic:
    traffic = Traffic(environment=environment)
    v = traffic.visitors
    s = traffic.sessions
    for name, seen in (
        ("V1", "2026-11-02T10:00"),
        ("V2", "2026-11-02T11:00"),
        ("V3", "2026-11-03T12:00"),
        ("V4", "2026-11-04T08:00"),
        ("V5", "2026-10-30T15:00"),
    ):
        v[name] = VisitorFactory(environment=environment, first_seen_at=at(seen))
    s["S1"] = visit(
        v["V1"],
        at("2026-11-02T10:00"),
        [(0, "/"), (60, "/pricing"), (180, "/signup")],
        events=[(30, "app.cta_clicked")],
        **DIRECT,
        **DESKTOP_DE,
    )
    s["S2"] = visit(v["V2"], at("2026-11-02T11:00"), [(0, "/blog/a")], **GOOGLE, **PHONE_US)
    s["S3"] = visit(v["V2"], at("2026-11-03T09:00"), [(0, "/"), (120, "/pricing")], **DIRECT, **PHONE_US)
    s["S4"] = visit(v["V3"], at("2026-11-03T12:00"), [(0, "/pricing")], **HACKER_NEWS, **DESKTOP_DE)
    s["S5"] = visit(
        v["V4"],
        at("2026-11-04T08:00"),
        [(0, "/"), (10, "/"), (60, "/pricing")],
        events=[(90, "app.pricing_toggled")],
        **GOOGLE_ADS,
        **DESKTOP_DE,
    )
    s["S0"] = visit(v["V5"], at("2026-10-30T15:00"), [(0, "/")], **DIRECT, **DESKTOP_DE)
    for visitor, session in (("V1", "S1"), ("V2", "S2"), ("V3", "S4"), ("V4", "S5"), ("V5", "S0")):
        first_touch(v[visitor], s[session])
    u = traffic.users
    u["U1"] = sign_up(environment, v["V1"], s["S1"], at("2026-11-02T10:03:30"))
    u["U2"] = sign_up(environment, v["V4"], s["S5"], at("2026-11-04T08:01:40"))
    u["U3"] = sign_up(environment, None, None, at("2026-11-05T12:00"), status=EndUser.Status.WAITLISTED)
    return traffic
