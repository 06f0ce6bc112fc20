"""Personas and a small hand-made traffic set, so each portal test reads as a story.

Personas: an owner and a teammate (viewer) of Acme, and an outsider who owns
another organization (Globex). The traffic set is a week of Acme's production
environment with numbers small enough to count by hand; `TrafficSet` documents
the figures the tests expect.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from analytics.models import Attribution
from analytics.tests.factories import EventFactory, PageviewFactory, SessionFactory, VisitorFactory
from identity.models import EndUser, Membership
from identity.services import environment_create, member_add
from journeys import network
from journeys.models import Delivery, Enrollment, StageEntry
from journeys.services.definitions import journey_create, journey_transition_add
from journeys.services.webhooks import webhook_endpoint_create

PASSWORD = "correct horse battery"
# "Now" for every test of the traffic set: Sunday 29 November 2026, noon UTC.
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass
class Personas:
    owner: object
    teammate: object
    outsider: object
    environment: object  # Acme / Web / production
    secret_key: str
    other_environment: object  # Globex / Shop / production

    def client_for(self, user, **kwargs) -> Client:
        client = Client(**kwargs)
        client.force_login(user)
        return client

    def url(self, page: str = "") -> str:
        project = self.environment.project
        return f"/portal/{project.organization.slug}/{project.slug}/{self.environment.slug}/{page}"


@pytest.fixture
def personas(db) -> Personas:
    acme = environment_create(organization_name="Acme", project_name="Web", environment_name="production")
    globex = environment_create(organization_name="Globex", project_name="Shop", environment_name="production")
    owner = member_add(organization_name="Acme", email="owner@acme.test", role=Membership.Role.OWNER, password=PASSWORD)
    teammate = member_add(
        organization_name="Acme", email="viewer@acme.test", role=Membership.Role.VIEWER, password=PASSWORD
    )
    outsider = member_add(
        organization_name="Globex", email="owner@globex.test", role=Membership.Role.OWNER, password=PASSWORD
    )
    return Personas(
        owner=owner.user,
        teammate=teammate.user,
        outsider=outsider.user,
        environment=acme.environment,
        secret_key=acme.secret_key,
        other_environment=globex.environment,
    )


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


CHROME_DE_BERLIN = {
    "browser": "Chrome",
    "os": "Mac OS X",
    "device_type": "desktop",
    "country": "DE",
    "region": "Berlin",
    "city": "Berlin",
}
SAFARI_US = {
    "browser": "Mobile Safari",
    "os": "iOS",
    "device_type": "mobile",
    "country": "US",
    "region": "New York",
    "city": "New York",
}
FIREFOX_DE_MUNICH = {
    "browser": "Firefox",
    "os": "Linux",
    "device_type": "desktop",
    "country": "DE",
    "region": "Bavaria",
    "city": "Munich",
}
FIREFOX_FR = {
    "browser": "Firefox",
    "os": "Windows",
    "device_type": "desktop",
    "country": "FR",
    "region": "",
    "city": "Paris",
}
GOOGLE = {"channel": "Organic Search", "source": "Google", "referrer_host": "www.google.com", "medium": "organic"}
DIRECT = {"channel": "Direct", "source": "", "referrer_host": "", "medium": ""}
NEWSLETTER = {
    "channel": "Email",
    "source": "newsletter",
    "utm_source": "newsletter",
    "utm_medium": "email",
    "utm_campaign": "launch",
    "medium": "email",
}


@dataclass
class TrafficSet:
    """A week (23–29 November 2026, UTC) of Acme's traffic; the previous week has one visit.

    - V1 comes from Google (Chrome, Berlin): session 1 on the 27th views /, /pricing
      and /signup over 300 s, clicks a CTA, and signs up at 10:05:30 as `user`;
      session 2 on the 28th comes back directly to /dashboard (a bounce).
    - V2 comes directly (iPhone, New York) on the 28th: / then /pricing, 90 s.
    - V3 comes from the newsletter (Firefox, Munich) today at 11:57: /pricing, a
      bounce, and is still live at noon.
    - V4, last week (the 20th), views / once (Firefox, Paris): a bounce.

    This week: 3 visitors, 4 sessions, 7 pageviews, 1.75 views/session, bounce
    rate 50.0 %, visit duration 98 s (390 / 4, rounded), 1 signup, conversion
    33.3 %. Last week: 1, 1, 1, 1.00, 100.0 %, 0 s, 0, 0.0 %.
    """

    user: EndUser
    visitors: list
    sessions: list


def _session(visitor, *, start, pages, traffic, device, events=(), user=None):
    """A session with its pageviews (path, time) and events (name, time), counters consistent."""
    last = max([time for _, time in pages] + [time for _, time in events])
    session = SessionFactory(
        visitor=visitor,
        environment=visitor.environment,
        user=user,
        started_at=start,
        last_activity_at=last,
        duration_seconds=int((last - start).total_seconds()),
        pageview_count=len(pages),
        event_count=len(events),
        is_bounce=len(pages) == 1 and not events,
        first_pageview_at=pages[0][1],
        last_pageview_at=pages[-1][1],
        entry_path=pages[0][0],
        exit_path=pages[-1][0],
        **traffic,
        **device,
    )
    copied = {key: value for key, value in {**traffic, **device}.items() if key != "medium"}
    for path, time in pages:
        PageviewFactory(session=session, path=path, timestamp=time, title=path.strip("/").title() or "Home", **copied)
    for name, time in events:
        EventFactory(session=session, name=name, timestamp=time, path=pages[0][0], hostname="example.com")
    return session


def _first_touch(visitor, session, traffic, at_time):
    return Attribution.objects.create(
        environment=visitor.environment,
        kind=Attribution.Kind.FIRST_TOUCH,
        visitor=visitor,
        user=visitor.user,
        session=session,
        channel=traffic["channel"],
        source=traffic.get("source", ""),
        medium=traffic.get("utm_medium", traffic.get("medium", "")),
        campaign=traffic.get("utm_campaign", ""),
        referring_domain=traffic.get("referrer_host", ""),
        landing_page=session.entry_path,
        at=at_time,
    )


def traffic_set_make(environment) -> TrafficSet:
    signup_at = at(27, 10, 5, 30)
    user = EndUser.objects.create(
        environment=environment, email="ada@example.com", name="Ada", password="!", created_at=signup_at
    )
    v1 = VisitorFactory(environment=environment, user=user, first_seen_at=at(27, 10), last_seen_at=at(28, 9))
    s1 = _session(
        v1,
        user=user,
        start=at(27, 10),
        pages=[("/", at(27, 10)), ("/pricing", at(27, 10, 2)), ("/signup", at(27, 10, 5))],
        events=[("app.cta_clicked", at(27, 10, 4))],
        traffic=GOOGLE,
        device=CHROME_DE_BERLIN,
    )
    # The server records the signup as a built-in event of the user and the browser.
    EventFactory(session=None, visitor=v1, user=user, name="user.created", kind="builtin", timestamp=signup_at)
    s2 = _session(
        v1, user=user, start=at(28, 9), pages=[("/dashboard", at(28, 9))], traffic=DIRECT, device=CHROME_DE_BERLIN
    )
    _first_touch(v1, s1, GOOGLE, at(27, 10))
    Attribution.objects.create(
        environment=environment,
        kind=Attribution.Kind.SIGNUP_TOUCH,
        user=user,
        session=s1,
        channel="Organic Search",
        source="Google",
        medium="organic",
        referring_domain="www.google.com",
        landing_page="/",
        at=at(27, 10),
    )

    v2 = VisitorFactory(environment=environment, first_seen_at=at(28, 15), last_seen_at=at(28, 15, 1, 30))
    s3 = _session(
        v2,
        start=at(28, 15),
        pages=[("/", at(28, 15)), ("/pricing", at(28, 15, 1, 30))],
        traffic=DIRECT,
        device=SAFARI_US,
    )
    _first_touch(v2, s3, DIRECT, at(28, 15))

    v3 = VisitorFactory(environment=environment, first_seen_at=at(29, 11, 57), last_seen_at=at(29, 11, 57))
    s4 = _session(
        v3, start=at(29, 11, 57), pages=[("/pricing", at(29, 11, 57))], traffic=NEWSLETTER, device=FIREFOX_DE_MUNICH
    )
    _first_touch(v3, s4, NEWSLETTER, at(29, 11, 57))

    v4 = VisitorFactory(environment=environment, first_seen_at=at(20, 10), last_seen_at=at(20, 10))
    s5 = _session(v4, start=at(20, 10), pages=[("/", at(20, 10))], traffic=DIRECT, device=FIREFOX_FR)
    _first_touch(v4, s5, DIRECT, at(20, 10))
    return TrafficSet(user=user, visitors=[v1, v2, v3, v4], sessions=[s1, s2, s3, s4, s5])


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def traffic(personas, frozen_now) -> TrafficSet:
    return traffic_set_make(personas.environment)


@dataclass
class JourneySet:
    """Acme's `onboarding` journey with four hand-made users, and one webhook endpoint with a delivery.

    signed_up → onboarded on app.completed_onboarding → paying on app.paid. All four
    entered signed_up; three moved on to onboarded; one of them to paying. Now:
    signed_up 1, onboarded 2, paying 1; reached 4, 3, 1; conversion 75.0 % and 33.3 %.
    """

    journey: object
    endpoint: object
    delivery: object
    sends: list


PUBLIC_ADDRESS = "93.184.215.14"


def journey_set_make(environment) -> tuple[object, object, object]:
    journey = journey_create(
        environment=environment, name="onboarding", entry_stage="signed_up", entry_event="user.created"
    )
    for source, target, event in (
        ("signed_up", "onboarded", "app.completed_onboarding"),
        ("onboarded", "paying", "app.paid"),
    ):
        journey_transition_add(
            environment=environment, name="onboarding", from_stage=source, to_stage=target, event_name=event
        )
    stages = {stage.name: stage for stage in journey.stages.all()}
    path = ["signed_up", "onboarded", "paying"]
    causes = ["user.created", "app.completed_onboarding", "app.paid"]
    for number, steps in enumerate((1, 2, 2, 3), start=1):
        user = EndUser.objects.create(environment=environment, email=f"j{number}@example.com", password="!")
        enrollment = Enrollment.objects.create(
            environment=environment, journey=journey, user=user, current_stage=stages[path[steps - 1]]
        )
        for index in range(steps):
            event = EventFactory(session=None, user=user, name=causes[index], kind="builtin", environment=environment)
            StageEntry.objects.create(
                environment=environment,
                journey=journey,
                enrollment=enrollment,
                stage=stages[path[index]],
                from_stage=stages[path[index - 1]] if index else None,
                event=event,
            )
    endpoint = webhook_endpoint_create(
        environment=environment,
        url="https://hooks.example.com/in",
        events=["app.*", "journey.stage_entered"],
        resolver=lambda host, port: [PUBLIC_ADDRESS],
    )
    delivery = Delivery.objects.create(
        environment=environment,
        endpoint=endpoint,
        kind=Delivery.Kind.TEST,
        event_type="webhook.test",
        payload={"type": "webhook.test", "timestamp": "2026-11-29T12:00:00.000Z", "data": {}},
        status=Delivery.Status.SUCCEEDED,
        attempts=1,
        response_status=200,
        duration_ms=42,
    )
    return journey, endpoint, delivery


@pytest.fixture
def fake_sends(monkeypatch) -> list:
    """The journeys network layer answers 200 without a connection; each send is recorded."""
    sends = []

    def post(url, *, body, headers, resolver=None):
        sends.append({"url": url, "body": body, "headers": headers})
        return network.SendResult(status=200, excerpt="ok", error="", duration_ms=7)

    monkeypatch.setattr(network, "post", post)
    return sends


@pytest.fixture
def journeys_set(personas, fake_sends) -> JourneySet:
    journey, endpoint, delivery = journey_set_make(personas.environment)
    return JourneySet(journey=journey, endpoint=endpoint, delivery=delivery, sends=fake_sends)
