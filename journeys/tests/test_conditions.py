"""A first-touch condition: only users who first came from the campaign enter, however late their pages arrive."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.tests.helpers import minutes_ago, pageview
from ascendkit_site.errors import ApplicationError
from journeys.conditions import condition_parse
from journeys.models import Enrollment, PendingEntry
from journeys.services.definitions import journey_create, journey_transition_add
from journeys.tasks import journey_pending_entries_sweep

from .helpers import collect, committed, signup, track

pytestmark = pytest.mark.django_db

SPRING = "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
AUTUMN = "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=autumn"
ADA = "vis_AdaFromTheSpringCampaign01"
GRACE = "vis_GraceCameDirectlyToTheSite1"


@pytest.fixture
def spring(tenant):
    journey = journey_create(
        environment=tenant.environment,
        name="spring",
        entry_stage="signed_up",
        entry_event="user.created",
        condition="utm_campaign==spring",
    )
    journey_transition_add(
        environment=tenant.environment,
        name="spring",
        from_stage="signed_up",
        to_stage="onboarded",
        event_name="app.completed_onboarding",
    )
    return journey


def enrolled(journey) -> set[str]:
    return set(Enrollment.objects.filter(journey=journey).values_list("user__email", flat=True))


def sweep():
    with committed():
        return journey_pending_entries_sweep()


def test_only_the_user_who_first_came_from_the_campaign_enters(api, tenant, spring):
    collect(api, tenant, ADA, [pageview(SPRING, at=minutes_ago(20))])
    collect(api, tenant, GRACE, [pageview("https://example.com/", at=minutes_ago(20))])

    signup(api, tenant, "ada@example.com", visitor_id=ADA)
    signup(api, tenant, "grace@example.com", visitor_id=GRACE)

    assert enrolled(spring) == {"ada@example.com"}


def test_a_later_campaign_visit_does_not_make_the_first_touch(api, tenant, spring):
    collect(api, tenant, GRACE, [pageview("https://example.com/", at=minutes_ago(120))])
    collect(api, tenant, GRACE, [pageview(SPRING, at=minutes_ago(20))])  # a new session, not the first
    signup(api, tenant, "grace@example.com", visitor_id=GRACE)
    sweep()

    assert enrolled(spring) == set()


def test_pre_signup_pages_that_arrive_after_the_signup_still_let_the_campaign_user_in(api, tenant, spring):
    # The SDK sends its batch of pre-signup pages only after the signup call returned.
    ada = signup(api, tenant, "ada@example.com", visitor_id=ADA)
    signup(api, tenant, "grace@example.com", visitor_id=GRACE)
    assert enrolled(spring) == set()
    # Before her pages arrive she also finished onboarding.
    track(api, tenant, ada, "app.completed_onboarding")

    collect(api, tenant, ADA, [pageview(SPRING, at=minutes_ago(15)), pageview(SPRING, at=minutes_ago(14))])
    collect(api, tenant, GRACE, [pageview(AUTUMN, at=minutes_ago(15))])
    assert sweep() == 0  # no endpoint: no deliveries, but…

    assert enrolled(spring) == {"ada@example.com"}
    enrollment = Enrollment.objects.get(journey=spring)
    # …her onboarding event is replayed into the late enrollment.
    assert enrollment.current_stage.name == "onboarded"
    assert [entry.event.name for entry in enrollment.entries.order_by("pk")] == [
        "user.created",
        "app.completed_onboarding",
    ]
    assert not PendingEntry.objects.filter(user__email="ada@example.com").exists()
    assert PendingEntry.objects.filter(user__email="grace@example.com").exists()


def test_her_next_event_decides_the_pending_entry_too(api, tenant, spring):
    ada = signup(api, tenant, "ada@example.com", visitor_id=ADA)
    collect(api, tenant, ADA, [pageview(SPRING, at=minutes_ago(15))])

    track(api, tenant, ada, "app.completed_onboarding")

    assert Enrollment.objects.get(journey=spring).current_stage.name == "onboarded"


def test_a_pending_entry_is_dropped_once_no_late_page_can_arrive(api, tenant, spring):
    signup(api, tenant, "grace@example.com", visitor_id=GRACE)
    assert PendingEntry.objects.count() == 1

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        sweep()

    assert PendingEntry.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("utm_campaign==spring", "campaign", "spring"),
        ("channel==Paid Search", "channel", "Paid Search"),
        ("source==Google", "source", "Google"),
        (" utm_source == newsletter ", "source", "newsletter"),
    ],
)
def test_it_parses_a_condition(text, field, value):
    condition = condition_parse(text)
    assert (condition.field, condition.value) == (field, value)


@pytest.mark.parametrize("text", ["utm_campaign=spring", "country==DE", "utm_campaign==", "==spring"])
def test_it_refuses_a_malformed_condition(text):
    with pytest.raises(ApplicationError) as error:
        condition_parse(text)
    assert error.value.code == "invalid_condition"


def test_a_channel_condition_compares_without_regard_to_case(api, tenant):
    journey = journey_create(
        environment=tenant.environment,
        name="from google",
        entry_stage="in",
        entry_event="user.created",
        condition="source==google",
    )
    collect(
        api, tenant, ADA, [pageview("https://example.com/", at=minutes_ago(20), referrer="https://www.google.com/")]
    )
    signup(api, tenant, "ada@example.com", visitor_id=ADA)

    assert enrolled(journey) == {"ada@example.com"}
