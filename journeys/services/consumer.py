"""What one stored event does to journeys and webhooks (SPEC 7).

For each post-signup business or built-in event, in one transaction: advance the
user's enrollments whose current stage has a transition on it, enter the user into
journeys whose entry event it is (when the first-touch condition holds), and queue
deliveries for subscribed endpoints. Idempotent per event: a stage entry is unique
per (enrollment, event) and a delivery per (endpoint, event), so an event the
outbox hands on twice moves nothing and sends nothing the second time.

The first-touch condition reads the touches of the visitors linked to the user,
which signup links in its own request, so it does not wait for stitching. When the
browser delivers the pages before signup only later, there is no touch yet: the
entry waits as a `PendingEntry` and is decided again on the user's next event and
by the periodic sweep once one of the user's visitors was stitched again (late
pages restitch it), for as long as late pages can still arrive. A late entry then
replays the user's events since the entry event, so the enrollment ends at the
stage it would have reached.
"""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from analytics.models import Event, Visitor
from analytics.selectors import user_first_touch
from identity.models import EndUser

from ..conditions import condition_holds
from ..models import Enrollment, Journey, PendingEntry, StageEntry, Transition
from .webhooks import deliveries_create_for_event, deliveries_create_for_stage_entries


def event_is_post_signup(event: Event, user: EndUser | None) -> bool:
    """Events of a user from their signup on; an anonymous or earlier one never enters journeys or webhooks.

    A browser may deliver pre-signup events after the signup, when their visitor
    is already linked, so the user alone does not tell.
    """
    return user is not None and event.timestamp >= user.created_at


def event_consume(*, event: Event) -> list[int]:
    """Enter, advance and queue deliveries for one event; the IDs of the deliveries it created."""
    user = (
        EndUser.objects.filter(environment_id=event.environment_id, pk=event.user_id)
        .select_related("environment")
        .first()
    )
    if not event_is_post_signup(event, user):
        return []
    with transaction.atomic():
        enrollments = _enrollments_locked(user)
        entries = _enrollments_advance(enrollments, event)
        entries += _pending_entries_decide(user)
        entries += _journeys_enter(user, event, enrolled={enrollment.journey_id for enrollment in enrollments})
        deliveries = deliveries_create_for_event(event=event, user=user)
        deliveries += deliveries_create_for_stage_entries(entries=entries, user=user)
    return [delivery.pk for delivery in deliveries]


def _enrollments_locked(user: EndUser) -> list[Enrollment]:
    # The row locks serialise two events of one user handled at once, so each
    # reads the stage the other left. (SQLite serialises all writers anyway.)
    return list(
        Enrollment.objects.select_for_update(of=("self",))
        .filter(environment_id=user.environment_id, user=user)
        .select_related("journey", "current_stage")
        .order_by("pk")
    )


def _enrollments_advance(enrollments: list[Enrollment], event: Event) -> list[StageEntry]:
    """Move each enabled enrollment along the transition the event fires from its stage, once."""
    active = [enrollment for enrollment in enrollments if enrollment.journey.enabled]
    if not active:
        return []
    transitions = {
        transition.from_stage_id: transition
        for transition in Transition.objects.filter(
            environment_id=event.environment_id,
            event_name=event.name,
            from_stage_id__in=[enrollment.current_stage_id for enrollment in active],
        ).select_related("to_stage")
    }
    moved_already = set(
        StageEntry.objects.filter(
            environment_id=event.environment_id, event=event, enrollment__in=[enrollment.pk for enrollment in active]
        ).values_list("enrollment_id", flat=True)
    )
    entries = []
    for enrollment in active:
        transition = transitions.get(enrollment.current_stage_id)
        if transition is not None and enrollment.pk not in moved_already:
            entries.append(_move(enrollment, transition, event))
    return entries


def _move(enrollment: Enrollment, transition: Transition, event: Event) -> StageEntry:
    now = timezone.now()
    entry = StageEntry.objects.create(
        environment_id=enrollment.environment_id,
        journey=enrollment.journey,
        enrollment=enrollment,
        stage=transition.to_stage,
        from_stage=enrollment.current_stage,
        event=event,
        entered_at=now,
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(current_stage=transition.to_stage, stage_entered_at=now)
    enrollment.current_stage = transition.to_stage
    enrollment.stage_entered_at = now
    return entry


def _journeys_enter(user: EndUser, event: Event, *, enrolled: set[int]) -> list[StageEntry]:
    """Enter the user into the enabled journeys this event enters and they are not in yet."""
    journeys = list(
        Journey.objects.filter(
            environment_id=user.environment_id, enabled=True, entry_event=event.name, entry_stage__isnull=False
        )
        .exclude(pk__in=enrolled)
        .select_related("entry_stage")
        .order_by("pk")
    )
    if not journeys:
        return []
    checked_at = timezone.now()
    first_touch = user_first_touch(user=user) if _any_conditional(journeys) else None
    entries = []
    for journey in journeys:
        if condition_holds(journey, first_touch):
            entries += _enter(journey, user, event)
        else:
            _pending_entry_keep(journey, user, event, checked_at=checked_at)
    return entries


def _any_conditional(journeys: list[Journey]) -> bool:
    return any(journey.condition_field for journey in journeys)


def _enter(journey: Journey, user: EndUser, event: Event) -> list[StageEntry]:
    """Enroll the user at the entry stage; nothing when another worker enrolled them first."""
    now = timezone.now()
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                environment_id=user.environment_id,
                journey=journey,
                user=user,
                current_stage=journey.entry_stage,
                entered_at=now,
                stage_entered_at=now,
            )
            entry = StageEntry.objects.create(
                environment_id=user.environment_id,
                journey=journey,
                enrollment=enrollment,
                stage=journey.entry_stage,
                from_stage=None,
                event=event,
                entered_at=now,
            )
    except IntegrityError:
        return []
    enrollment.journey = journey
    PendingEntry.objects.filter(journey=journey, user=user).delete()
    return [entry]


def _pending_entry_keep(journey: Journey, user: EndUser, event: Event, *, checked_at: datetime) -> None:
    decide_by = event.timestamp + settings.BROWSER_MAX_AGE
    if decide_by <= checked_at:
        return  # an old event: no page that could change the first touch can still arrive
    pending, created = PendingEntry.objects.get_or_create(
        journey=journey,
        user=user,
        defaults={
            "environment_id": user.environment_id,
            "event": event,
            "checked_at": checked_at,
            "decide_by": decide_by,
        },
    )
    if not created:
        PendingEntry.objects.filter(pk=pending.pk).update(checked_at=checked_at)


def _pending_entries_decide(user: EndUser) -> list[StageEntry]:
    """Enter the user where a pending entry's condition holds now, replaying their later events."""
    checked_at = timezone.now()
    pending = list(
        PendingEntry.objects.filter(environment_id=user.environment_id, user=user, decide_by__gte=checked_at)
        .select_related("journey__entry_stage", "event")
        .order_by("pk")
    )
    if not pending:
        return []
    first_touch = user_first_touch(user=user)
    entries = []
    for entry in pending:
        journey = entry.journey
        if not journey.enabled or not condition_holds(journey, first_touch):
            continue
        entered = _enter(journey, user, entry.event)
        entries += entered
        if entered:
            entries += _replay(entered[0].enrollment, entry.event, user)
    PendingEntry.objects.filter(pk__in=[entry.pk for entry in pending]).update(checked_at=checked_at)
    return entries


def _replay(enrollment: Enrollment, entry_event: Event, user: EndUser) -> list[StageEntry]:
    """Advance a late enrollment by the user's events after its entry event, in their order."""
    names = set(Transition.objects.filter(journey_id=enrollment.journey_id).values_list("event_name", flat=True))
    later = (
        Event.objects.filter(
            environment_id=user.environment_id, user=user, name__in=names, timestamp__gte=user.created_at
        )
        .filter(Q(timestamp__gt=entry_event.timestamp) | Q(timestamp=entry_event.timestamp, pk__gt=entry_event.pk))
        .order_by("timestamp", "pk")
    )
    entries = []
    for event in later:
        entries += _enrollments_advance([enrollment], event)
    return entries


def pending_entries_recheck(*, limit: int = 500) -> list[int]:
    """Decide pending entries of users whose visitors were stitched since the last check; delivery IDs.

    Late pages restitch their visitor, so `Visitor.stitched_at` moving past a
    pending entry's `checked_at` is the sign that the first touch may have changed.
    Expired entries are dropped.
    """
    now = timezone.now()
    PendingEntry.objects.filter(decide_by__lt=now).delete()
    restitched = Visitor.objects.filter(
        environment_id=OuterRef("environment_id"), user_id=OuterRef("user_id"), stitched_at__gt=OuterRef("checked_at")
    )
    user_ids = list(
        PendingEntry.objects.filter(Exists(restitched), decide_by__gte=now)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()[:limit]
    )
    delivery_ids = []
    for user in EndUser.objects.filter(pk__in=user_ids).select_related("environment"):
        with transaction.atomic():
            _enrollments_locked(user)
            entries = _pending_entries_decide(user)
            delivery_ids += [
                delivery.pk for delivery in deliveries_create_for_stage_entries(entries=entries, user=user)
            ]
    return delivery_ids
