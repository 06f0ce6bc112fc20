"""Defining journeys: create, add transitions (making stages as needed), enable, disable."""

from django.db import IntegrityError, transaction

from analytics.cleaning import is_client_event_name
from ascendkit_site.errors import ApplicationError
from identity.models import Environment

from ..conditions import condition_parse
from ..models import Journey, Stage, Transition

# The events the server records itself (SPEC 5, Built-in events).
BUILTIN_EVENT_NAMES = frozenset(
    {"user.created", "user.login", "user.signout", "user.waitlisted", "user.waitlist_approved"}
)
NAME_MAX_LENGTH = 100


def event_name_validate(name: str) -> str:
    """A name a journey can fire on: a client `app.` name or a built-in `user.` one."""
    if name in BUILTIN_EVENT_NAMES or is_client_event_name(name):
        return name
    builtin = ", ".join(sorted(BUILTIN_EVENT_NAMES))
    raise ApplicationError("invalid_event_name", f"{name!r} is not an event name: use app.<name> or one of {builtin}.")


def _name_validate(name: str, what: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ApplicationError(f"invalid_{what}_name", f"A {what} name has 1 to {NAME_MAX_LENGTH} characters.")
    return name


def journey_get(*, environment: Environment, name: str) -> Journey:
    journey = Journey.objects.filter(environment=environment, name=name).select_related("entry_stage").first()
    if journey is None:
        raise ApplicationError("not_found", f"There is no journey named {name!r} in this environment.")
    return journey


def _stage_get_or_create(journey: Journey, name: str) -> Stage:
    stage, _ = Stage.objects.get_or_create(
        journey=journey, name=_name_validate(name, "stage"), defaults={"environment_id": journey.environment_id}
    )
    return stage


@transaction.atomic
def journey_create(
    *, environment: Environment, name: str, entry_stage: str, entry_event: str, condition: str = ""
) -> Journey:
    """Make a journey users enter at `entry_stage` on `entry_event`, optionally only when `condition` holds."""
    parsed = condition_parse(condition) if condition else None
    journey = Journey(
        environment=environment,
        name=_name_validate(name, "journey"),
        entry_event=event_name_validate(entry_event),
        condition_field=parsed.field if parsed else "",
        condition_value=parsed.value if parsed else "",
    )
    try:
        with transaction.atomic():
            journey.save()
    except IntegrityError:
        raise ApplicationError("journey_exists", f"A journey named {journey.name!r} exists already.") from None
    journey.entry_stage = _stage_get_or_create(journey, entry_stage)
    journey.save(update_fields=["entry_stage"])
    return journey


@transaction.atomic
def journey_transition_add(
    *, environment: Environment, name: str, from_stage: str, to_stage: str, event_name: str
) -> Transition:
    """Add `from_stage → to_stage` on `event_name`, making either stage when it is new."""
    journey = journey_get(environment=environment, name=name)
    event_name = event_name_validate(event_name)
    source = _stage_get_or_create(journey, from_stage)
    target = _stage_get_or_create(journey, to_stage)
    if source.pk == target.pk:
        raise ApplicationError("invalid_transition", "A transition leads to another stage.")
    existing = Transition.objects.filter(from_stage=source, event_name=event_name).select_related("to_stage").first()
    if existing is not None:
        if existing.to_stage_id == target.pk:
            return existing  # the same transition again: nothing to do
        raise ApplicationError(
            "transition_exists",
            f"{event_name} already leads from {source.name!r} to {existing.to_stage.name!r}.",
        )
    return Transition.objects.create(
        environment=environment, journey=journey, from_stage=source, to_stage=target, event_name=event_name
    )


def journey_set_enabled(*, environment: Environment, name: str, enabled: bool) -> Journey:
    """Enable or disable a journey; a disabled one neither enters nor advances anyone."""
    journey = journey_get(environment=environment, name=name)
    Journey.objects.filter(pk=journey.pk).update(enabled=enabled)
    journey.enabled = enabled
    return journey
