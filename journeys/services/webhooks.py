"""Webhook endpoints and their deliveries: create, queue, attempt with retries, test, replay.

A delivery is attempted once it is claimed by a conditional UPDATE (pending and due,
or a claim gone stale), as healthchecks' `sendalerts` claims a `Flip`: of two
workers only the one whose UPDATE matched sends. The outcome is written only while
the claim is still ours. Retries follow Svix's schedule; an endpoint that fails
without a single success for a whole schedule is disabled, with the reason kept.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from standardwebhooks import Webhook

from analytics.models import Event
from ascendkit_site import ids
from ascendkit_site.errors import ApplicationError
from identity.models import EndUser, Environment

from .. import network
from ..models import Delivery, StageEntry, WebhookEndpoint
from .definitions import event_name_validate

# Waits after the 1st, 2nd, … failed attempt (Svix): eight attempts over about 28 hours.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
SCHEDULE_SPAN = sum(RETRY_SCHEDULE, timedelta())
# A claim older than this belongs to a worker that died mid-send (a send takes at most 10 s).
CLAIM_TIMEOUT = timedelta(minutes=2)
STAGE_ENTERED = "journey.stage_entered"
TEST_TYPE = "webhook.test"
MAX_SUBSCRIPTIONS = 50
USER_AGENT = "AscendKit-Webhooks/1.0"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- Endpoints ------------------------------------------------------------------------


def subscriptions_validate(events: list[str]) -> list[str]:
    """Exact event names, `journey.stage_entered`, or prefixes ending in `*` (`app.*`, `*`)."""
    cleaned = list(dict.fromkeys(name.strip() for name in events if name and name.strip()))
    if not cleaned:
        raise ApplicationError("invalid_events", "Subscribe the endpoint to at least one event name.")
    if len(cleaned) > MAX_SUBSCRIPTIONS:
        raise ApplicationError("invalid_events", f"An endpoint subscribes to at most {MAX_SUBSCRIPTIONS} names.")
    for name in cleaned:
        if name.endswith("*"):
            if "*" in name[:-1] or len(name) > 205:
                raise ApplicationError("invalid_events", f"{name!r}: a pattern has one `*`, at its end.")
        elif name != STAGE_ENTERED:
            event_name_validate(name)
    return cleaned


def webhook_endpoint_create(
    *,
    environment: Environment,
    url: str,
    events: list[str],
    description: str = "",
    resolver: network.Resolver | None = None,
) -> WebhookEndpoint:
    """Save an endpoint; its secret is generated here and readable once by the caller.

    Raises ApplicationError (nothing saved) for a malformed URL or a target that
    resolves to a non-public address.
    """
    subscriptions = subscriptions_validate(events)
    network.target_check(url, resolver=resolver)
    return WebhookEndpoint.objects.create(
        environment=environment, url=url, events=subscriptions, description=description.strip()[:200]
    )


def webhook_endpoint_get(*, environment: Environment, public_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(environment=environment, public_id=public_id).first()
    if endpoint is None:
        raise ApplicationError("not_found", f"There is no webhook endpoint {public_id!r} in this environment.")
    return endpoint


def webhook_endpoint_set_enabled(*, environment: Environment, public_id: str, enabled: bool) -> WebhookEndpoint:
    """Enable (clearing the failure streak and reason) or disable an endpoint.

    Deliveries waiting for a disabled endpoint stay pending and go out once it is
    enabled again.
    """
    endpoint = webhook_endpoint_get(environment=environment, public_id=public_id)
    if enabled:
        fields = {
            "enabled": True,
            "failure_streak": 0,
            "failing_since": None,
            "disabled_reason": "",
            "disabled_at": None,
        }
    else:
        fields = {"enabled": False, "disabled_reason": "Disabled by a team member.", "disabled_at": timezone.now()}
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
    endpoint.refresh_from_db()
    return endpoint


# --- Queueing deliveries ----------------------------------------------------------------


def _endpoints_for(environment_id: int, event_type: str) -> list[WebhookEndpoint]:
    endpoints = WebhookEndpoint.objects.filter(environment_id=environment_id, enabled=True).order_by("pk")
    return [endpoint for endpoint in endpoints if endpoint.subscribes_to(event_type)]


def _event_payload(event: Event, user: EndUser) -> dict:
    return {
        "type": event.name,
        "timestamp": iso(event.timestamp),
        "data": {
            "eventId": event.public_id,
            "userId": user.public_id,
            "name": event.name,
            "properties": event.properties,
            "at": iso(event.timestamp),
        },
    }


def _stage_payload(entry: StageEntry, user: EndUser) -> dict:
    return {
        "type": STAGE_ENTERED,
        "timestamp": iso(entry.entered_at),
        "data": {
            "journey": entry.journey.name,
            "stage": entry.stage.name,
            "fromStage": entry.from_stage.name if entry.from_stage else None,
            "userId": user.public_id,
            "eventId": entry.event.public_id,
        },
    }


def _deliveries_insert(deliveries: list[Delivery]) -> list[Delivery]:
    # A concurrent consumer of the same event may have inserted some: the unique
    # constraints make ours no-ops, and only rows found by their minted IDs are ours.
    if not deliveries:
        return []
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    minted = [delivery.public_id for delivery in deliveries]
    return list(Delivery.objects.filter(environment_id=deliveries[0].environment_id, public_id__in=minted))


def deliveries_create_for_event(*, event: Event, user: EndUser) -> list[Delivery]:
    """Queue the event for every subscribed endpoint that has not had it yet; in the caller's transaction."""
    endpoints = _endpoints_for(event.environment_id, event.name)
    if not endpoints:
        return []
    done = set(Delivery.objects.filter(event=event, kind=Delivery.Kind.EVENT).values_list("endpoint_id", flat=True))
    payload = _event_payload(event, user)
    return _deliveries_insert(
        [
            Delivery(
                environment_id=event.environment_id,
                endpoint=endpoint,
                public_id=ids.mint("msg"),
                kind=Delivery.Kind.EVENT,
                event=event,
                event_type=event.name,
                payload=payload,
            )
            for endpoint in endpoints
            if endpoint.pk not in done
        ]
    )


def deliveries_create_for_stage_entries(*, entries: list[StageEntry], user: EndUser) -> list[Delivery]:
    """Queue `journey.stage_entered` for every new stage entry; in the caller's transaction."""
    if not entries:
        return []
    endpoints = _endpoints_for(user.environment_id, STAGE_ENTERED)
    deliveries = []
    for entry in entries:
        payload = _stage_payload(entry, user)
        deliveries += [
            Delivery(
                environment_id=user.environment_id,
                endpoint=endpoint,
                public_id=ids.mint("msg"),
                kind=Delivery.Kind.STAGE_ENTERED,
                stage_entry=entry,
                event_type=STAGE_ENTERED,
                payload=payload,
            )
            for endpoint in endpoints
        ]
    return _deliveries_insert(deliveries)


# --- Attempts ---------------------------------------------------------------------------


def body_and_headers(delivery: Delivery, secret: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and the Standard Webhooks headers of one attempt, signed at `at`."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    signature = Webhook(secret).sign(msg_id=delivery.public_id, timestamp=at, data=body)
    headers = {
        "webhook-id": delivery.public_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    return body.encode(), headers


def deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """IDs of deliveries to enabled endpoints that are due, or whose claim went stale."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(_claimable(now), endpoint__enabled=True)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def _claimable(now: datetime) -> Q:
    due = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
    stale = Q(status=Delivery.Status.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT)
    return due | stale


def _claim(delivery_id: int) -> datetime | None:
    """Mark the delivery as ours if it is still claimable; the claim time, or None when we lost."""
    claimed_at = timezone.now()
    # A stale claim is taken over only while it is exactly as stale as the
    # condition says: the second of two UPDATEs no longer matches the first's claim.
    won = Delivery.objects.filter(_claimable(claimed_at), pk=delivery_id).update(
        status=Delivery.Status.SENDING, claimed_at=claimed_at
    )
    return claimed_at if won == 1 else None


@dataclass(frozen=True)
class AttemptOutcome:
    delivery: Delivery
    retry_in: timedelta | None  # when the next attempt is due, if there is one


def delivery_attempt(*, delivery_id: int, resolver: network.Resolver | None = None) -> AttemptOutcome | None:
    """Claim the delivery, send it once, record the answer; None when it was not ours to send.

    Safe to call for any ID at any time: a delivery that is not due, already sent,
    claimed by another worker or meant for a disabled endpoint is left alone.
    """
    claimed_at = _claim(delivery_id)
    if claimed_at is None:
        return None
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.enabled and delivery.kind != Delivery.Kind.TEST:
        # Disabled since it was selected: hand it back untouched.
        Delivery.objects.filter(pk=delivery.pk, claimed_at=claimed_at).update(
            status=Delivery.Status.PENDING, claimed_at=None
        )
        return None
    body, headers = body_and_headers(delivery, endpoint.secret, timezone.now())
    result = network.post(endpoint.url, body=body, headers=headers, resolver=resolver)
    return _attempt_record(delivery, claimed_at, result)


def _attempt_record(delivery: Delivery, claimed_at: datetime, result: network.SendResult) -> AttemptOutcome | None:
    now = timezone.now()
    attempts = delivery.attempts + 1
    retry_in = None
    if result.ok:
        status = Delivery.Status.SUCCEEDED
    elif delivery.kind != Delivery.Kind.TEST and attempts <= len(RETRY_SCHEDULE):
        status = Delivery.Status.PENDING
        retry_in = RETRY_SCHEDULE[attempts - 1]
    else:
        status = Delivery.Status.FAILED
    fields = {
        "status": status,
        "attempts": attempts,
        "claimed_at": None,
        "last_attempt_at": now,
        "next_attempt_at": now + retry_in if retry_in else None,
        "response_status": result.status,
        "response_excerpt": result.excerpt[:1000],
        "error": result.error[:500],
        "duration_ms": result.duration_ms,
        "succeeded_at": now if result.ok else delivery.succeeded_at,
    }
    with transaction.atomic():
        ours = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING, claimed_at=claimed_at)
        if not ours.update(**fields):
            return None  # the claim went stale and another worker took over
        if delivery.kind != Delivery.Kind.TEST:
            _endpoint_health_record(delivery, result, gave_up=status == Delivery.Status.FAILED, now=now)
    for name, value in fields.items():
        setattr(delivery, name, value)
    return AttemptOutcome(delivery=delivery, retry_in=retry_in)


def _describe(result: network.SendResult) -> str:
    return f"HTTP {result.status}" if result.status is not None else result.error or "no answer"


def _endpoint_health_record(delivery: Delivery, result: network.SendResult, *, gave_up: bool, now: datetime) -> None:
    """Count the attempt in the endpoint's streak; disable it after a schedule without success."""
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if result.ok:
        endpoints.update(failure_streak=0, failing_since=None)
        return
    endpoints.update(failure_streak=F("failure_streak") + 1, failing_since=Coalesce("failing_since", now))
    if not gave_up:
        return
    endpoint = endpoints.get()
    # Sustained: this delivery used its whole schedule, and not one attempt to the
    # endpoint succeeded for at least as long as that schedule lasts (about 28 hours).
    if endpoint.enabled and endpoint.failing_since and endpoint.failing_since <= now - SCHEDULE_SPAN:
        hours = (now - endpoint.failing_since).total_seconds() / 3600
        reason = (
            f"Disabled after {endpoint.failure_streak} failed attempts in a row over {hours:.0f} h; "
            f"the last, of {delivery.public_id}, got {_describe(result)}."
        )
        endpoints.filter(enabled=True).update(enabled=False, disabled_reason=reason, disabled_at=now)


# --- Tests and replays ------------------------------------------------------------------


def webhook_endpoint_test(
    *, environment: Environment, public_id: str, resolver: network.Resolver | None = None
) -> Delivery:
    """Send a `webhook.test` message to the endpoint now, once, and return its delivery.

    A test is not retried and does not count towards disabling the endpoint; it is
    sent to a disabled endpoint too, to check it before enabling it again.
    """
    endpoint = webhook_endpoint_get(environment=environment, public_id=public_id)
    now = timezone.now()
    delivery = Delivery.objects.create(
        environment=environment,
        endpoint=endpoint,
        kind=Delivery.Kind.TEST,
        event_type=TEST_TYPE,
        payload={
            "type": TEST_TYPE,
            "timestamp": iso(now),
            "data": {"endpointId": endpoint.public_id, "message": "A test delivery from AscendKit Analytics."},
        },
        next_attempt_at=now,
    )
    delivery_attempt(delivery_id=delivery.pk, resolver=resolver)
    delivery.refresh_from_db()
    return delivery


def delivery_replay(*, environment: Environment, public_id: str) -> Delivery:
    """Queue a delivery again now, with its `webhook-id`: the receiver can tell it is the same message.

    A failed attempt of the replay is retried by what is left of the schedule.
    """
    delivery = Delivery.objects.filter(environment=environment, public_id=public_id).select_related("endpoint").first()
    if delivery is None:
        raise ApplicationError("not_found", f"There is no delivery {public_id!r} in this environment.")
    if not delivery.endpoint.enabled:
        raise ApplicationError(
            "endpoint_disabled",
            f"The endpoint {delivery.endpoint.public_id} is disabled; enable it first "
            f"(reason: {delivery.endpoint.disabled_reason or 'none given'}).",
        )
    now = timezone.now()
    queued = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(status=Delivery.Status.SENDING)
        .update(status=Delivery.Status.PENDING, next_attempt_at=now)
    )
    if not queued:
        raise ApplicationError("delivery_in_flight", f"The delivery {public_id} is being sent right now.")
    delivery.refresh_from_db()
    return delivery
