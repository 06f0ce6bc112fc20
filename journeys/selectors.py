"""Reads of journeys and webhooks: definitions, stage counts, conversion, the delivery log.

The CLI prints these and the portal's pages render them; every query is scoped to
one environment.
"""

from dataclasses import dataclass

from django.db.models import Count

from identity.models import Environment

from .models import Delivery, Enrollment, Journey, StageEntry, WebhookEndpoint

DELIVERY_LOG_LIMIT = 50
DELIVERY_LOG_MAX = 500


@dataclass(frozen=True)
class StageCount:
    name: str
    users: int  # in this stage now
    reached: int  # ever entered it


@dataclass(frozen=True)
class TransitionConversion:
    from_stage: str
    to_stage: str
    on: str
    moved: int  # enrollments that took this transition
    conversion_rate: float  # moved / reached(from_stage), a percentage with one decimal


@dataclass(frozen=True)
class JourneyReport:
    journey: Journey
    stages: list[StageCount]
    transitions: list[TransitionConversion]

    def as_dict(self) -> dict:
        journey = self.journey
        return {
            "name": journey.name,
            "enabled": journey.enabled,
            "entryStage": journey.entry_stage.name if journey.entry_stage else None,
            "entryEvent": journey.entry_event,
            "condition": journey.condition or None,
            "stages": [{"name": stage.name, "users": stage.users, "reached": stage.reached} for stage in self.stages],
            "transitions": [
                {
                    "from": transition.from_stage,
                    "to": transition.to_stage,
                    "on": transition.on,
                    "moved": transition.moved,
                    "conversionRate": transition.conversion_rate,
                }
                for transition in self.transitions
            ],
        }


def journey_list(*, environment: Environment) -> list[Journey]:
    return list(
        Journey.objects.filter(environment=environment)
        .select_related("entry_stage")
        .annotate(users=Count("enrollments"))
        .order_by("name")
    )


def journey_report(*, journey: Journey) -> JourneyReport:
    """Each stage with how many users are in it now and ever reached it, and each transition's conversion.

    Stages are listed entry first, then in the order they were made.
    """
    environment_id = journey.environment_id
    now_in = dict(
        Enrollment.objects.filter(environment_id=environment_id, journey=journey)
        .values_list("current_stage_id")
        .annotate(users=Count("pk"))
        .order_by()
    )
    reached = dict(
        StageEntry.objects.filter(environment_id=environment_id, journey=journey)
        .values_list("stage_id")
        .annotate(enrollments=Count("enrollment_id", distinct=True))
        .order_by()
    )
    moved = {
        (from_id, to_id): count
        for from_id, to_id, count in StageEntry.objects.filter(
            environment_id=environment_id, journey=journey, from_stage__isnull=False
        )
        .values_list("from_stage_id", "stage_id")
        .annotate(enrollments=Count("enrollment_id", distinct=True))
        .order_by()
    }
    stages = sorted(journey.stages.all(), key=lambda stage: (stage.pk != journey.entry_stage_id, stage.pk))
    names = {stage.pk: stage.name for stage in stages}
    transitions = []
    for transition in journey.transitions.order_by("pk"):
        took = moved.get((transition.from_stage_id, transition.to_stage_id), 0)
        base = reached.get(transition.from_stage_id, 0)
        transitions.append(
            TransitionConversion(
                from_stage=names[transition.from_stage_id],
                to_stage=names[transition.to_stage_id],
                on=transition.event_name,
                moved=took,
                conversion_rate=round(100 * took / base, 1) if base else 0.0,
            )
        )
    return JourneyReport(
        journey=journey,
        stages=[
            StageCount(name=stage.name, users=now_in.get(stage.pk, 0), reached=reached.get(stage.pk, 0))
            for stage in stages
        ],
        transitions=transitions,
    )


def webhook_endpoint_list(*, environment: Environment) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(environment=environment).order_by("pk"))


def delivery_log(
    *, environment: Environment, endpoint: WebhookEndpoint, limit: int = DELIVERY_LOG_LIMIT
) -> list[Delivery]:
    """The endpoint's deliveries, newest first, with how their last attempt went."""
    limit = max(1, min(limit, DELIVERY_LOG_MAX))
    return list(
        Delivery.objects.filter(environment=environment, endpoint=endpoint)
        .order_by("-created_at", "-pk")
        .defer("payload")[:limit]
    )


def delivery_as_dict(delivery: Delivery) -> dict:
    def when(moment):
        return moment.isoformat() if moment else None

    return {
        "id": delivery.public_id,
        "type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": when(delivery.next_attempt_at),
        "lastAttemptAt": when(delivery.last_attempt_at),
        "responseStatus": delivery.response_status,
        "responseExcerpt": delivery.response_excerpt,
        "error": delivery.error,
        "durationMs": delivery.duration_ms,
        "createdAt": when(delivery.created_at),
    }


def webhook_endpoint_as_dict(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "failureStreak": endpoint.failure_streak,
        "disabledReason": endpoint.disabled_reason or None,
        "secretHint": endpoint.secret_hint,
        "createdAt": endpoint.created_at.isoformat(),
    }
