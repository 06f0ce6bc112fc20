"""Journeys (stages and the transitions events fire) and webhook endpoints with their deliveries.

Every row carries its environment, and every composite index starts with it. The
idempotence of the outbox consumer rests on two constraints here: a stage entry is
unique per (enrollment, event), so an event moves an enrollment at most once, and a
delivery is unique per (endpoint, event) or (endpoint, stage entry), so a redelivered
event is never sent twice.
"""

import base64
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from analytics.models import Event
from ascendkit_site import ids
from identity.models import EndUser, Environment


class Journey(models.Model):
    """Named stages a user moves through as their events arrive."""

    class ConditionField(models.TextChoices):
        # The fields of the user's first-touch attribution a journey may require.
        CHANNEL = "channel"
        SOURCE = "source"
        MEDIUM = "medium"
        CAMPAIGN = "campaign"
        TERM = "term"
        CONTENT = "content"
        REFERRING_DOMAIN = "referring_domain"
        LANDING_PAGE = "landing_page"

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    entry_stage = models.ForeignKey("Stage", null=True, on_delete=models.SET_NULL, related_name="+")
    entry_event = models.CharField(max_length=205)
    # Optional: only users whose first touch has this value enter. Blank: everyone.
    condition_field = models.CharField(max_length=32, choices=ConditionField.choices, blank=True)
    condition_value = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["environment", "name"], name="journey_unique_env_name")]
        indexes = [
            # The consumer: enabled journeys an event name enters.
            models.Index(fields=["environment", "entry_event"], name="journey_env_entry", condition=Q(enabled=True)),
        ]

    def __str__(self):
        return self.name

    @property
    def condition(self) -> str:
        """The condition as typed: `utm_campaign==spring` reads back as `campaign==spring`."""
        return f"{self.condition_field}=={self.condition_value}" if self.condition_field else ""


class Stage(models.Model):
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["journey", "name"], name="stage_unique_journey_name")]

    def __str__(self):
        return self.name


class Transition(models.Model):
    """`from_stage → to_stage` when an event named `event_name` arrives."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="transitions_out")
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="transitions_in")
    event_name = models.CharField(max_length=205)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One event leads out of a stage to one place: a move is never ambiguous.
            models.UniqueConstraint(fields=["from_stage", "event_name"], name="transition_unique_from_event"),
        ]
        indexes = [
            # The consumer: transitions an event name fires.
            models.Index(fields=["environment", "event_name"], name="transition_env_event"),
        ]

    def __str__(self):
        return f"{self.from_stage} → {self.to_stage} on {self.event_name}"


class Enrollment(models.Model):
    """A user in a journey, at one stage."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="enrollments")
    current_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="enrollments")
    entered_at = models.DateTimeField(default=timezone.now)
    stage_entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["journey", "user"], name="enrollment_unique_journey_user")]
        indexes = [
            # The consumer: a user's enrollments. Stage counts: users per current stage.
            models.Index(fields=["environment", "user"], name="enrollment_env_user"),
            models.Index(fields=["environment", "journey", "current_stage"], name="enrollment_env_journey_stage"),
        ]

    def __str__(self):
        return f"{self.user} in {self.journey} at {self.current_stage}"


class StageEntry(models.Model):
    """One move of an enrollment (its entry included), naming the event that caused it."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="entries")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="entries")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "stage entries"
        constraints = [
            # SPEC 7: each event moves an enrollment at most once, however often it is delivered.
            models.UniqueConstraint(fields=["enrollment", "event"], name="stageentry_unique_enrollment_event"),
        ]
        indexes = [
            # Conversion between stages: entries of a journey by stage.
            models.Index(fields=["environment", "journey", "stage"], name="stageentry_env_journey_stage"),
        ]


class PendingEntry(models.Model):
    """An entry event whose first-touch condition did not hold yet, re-checked until `decide_by`.

    The browser may deliver the pages before signup days after the signup (up to
    its 7-day limit), and only those pages carry the first touch.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    checked_at = models.DateTimeField(default=timezone.now)
    decide_by = models.DateTimeField()

    class Meta:
        verbose_name_plural = "pending entries"
        constraints = [models.UniqueConstraint(fields=["journey", "user"], name="pendingentry_unique_journey_user")]
        indexes = [
            models.Index(fields=["environment", "user"], name="pendingentry_env_user"),
            # The sweep: entries still open.
            models.Index(fields=["decide_by"], name="pendingentry_decide_by"),
        ]


def make_webhook_secret() -> str:
    # Standard Webhooks: `whsec_` + base64 of 24 to 64 random bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A customer URL that receives signed deliveries of the event types it subscribes to.

    The signing secret is stored as is: it must be usable to sign every delivery,
    so it cannot be hashed (see README, "Journeys and webhooks").
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=80, default=None)
    url = models.URLField(max_length=2048)
    secret = models.CharField(max_length=120, default=make_webhook_secret)
    # Exact names (`app.signed_up`, `journey.stage_entered`) or prefixes ending in `*` (`app.*`, `*`).
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    # Failed attempts in a row, and since when: a long enough streak disables the endpoint.
    failure_streak = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "public_id"], name="webhookendpoint_unique_env_public_id")
        ]
        indexes = [models.Index(fields=["environment", "enabled"], name="webhookendpoint_env_enabled")]

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = ids.mint("ep")
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.public_id} {self.url}"

    @property
    def secret_hint(self) -> str:
        return self.secret[:10] + "…"

    def subscribes_to(self, event_type: str) -> bool:
        return any(
            event_type.startswith(pattern[:-1]) if pattern.endswith("*") else event_type == pattern
            for pattern in self.events
        )


class Delivery(models.Model):
    """One message to one endpoint: its payload, its attempts and how the last one went.

    `public_id` is the Standard Webhooks `webhook-id`, the same on every retry, so
    the receiver can drop a repeat.
    """

    class Kind(models.TextChoices):
        EVENT = "event"
        STAGE_ENTERED = "stage_entered"
        TEST = "test"

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its next attempt
        SENDING = "sending"  # claimed by a worker
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # every attempt of the schedule failed

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    public_id = models.CharField(max_length=80, default=None)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What it carries; erasing the user erases these with the event.
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    stage_entry = models.ForeignKey(StageEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=205)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=1000, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["environment", "public_id"], name="delivery_unique_env_public_id"),
            # A redelivered event is sent once per endpoint.
            models.UniqueConstraint(
                fields=["endpoint", "event"], condition=Q(kind="event"), name="delivery_unique_endpoint_event"
            ),
            models.UniqueConstraint(
                fields=["endpoint", "stage_entry"],
                condition=Q(kind="stage_entered"),
                name="delivery_unique_endpoint_stage_entry",
            ),
        ]
        indexes = [
            # The sweep: deliveries due for an attempt.
            models.Index(fields=["next_attempt_at"], name="delivery_due", condition=Q(status="pending")),
            # The delivery log of an endpoint, newest first.
            models.Index(fields=["environment", "endpoint", "-created_at"], name="delivery_env_endpoint_created"),
        ]

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = ids.mint("msg")
        super().save(*args, **kwargs)

    def __str__(self):
        return self.public_id
