"""Visitors, their sessions, pageviews and events, and first-touch attribution.

Every table carries its environment, and every composite index starts with it: no
query in this project reads across environments. The tables with such indexes have
no index on the environment alone: it would cost every insert and serve no query,
and on a table whose statistics are not yet gathered the planner takes it for the
best way to a few rows of an environment. The session's device, geography
and source are copied onto each pageview so that the dashboard's breakdowns read
one table without a join (the same trade shynet makes for `Hit.service`).

The tables every collect request and writer chunk inserts into refer to their
environment without a database constraint (`db_constraint=False`): the constraint's
check share-locks the referenced row, and all of an environment's concurrent writes
reference the same one, so each insert paid for a lock shared with every other
(a third of a queued request's database time). Rows get their environment from
an authenticated key, and deleting an environment still cascades, through Django.
"""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from ascendkit_site import ids
from identity.models import EndUser, Environment


class PublicIdModel(models.Model):
    """A model with a minted, time-sortable `prefix_…` public ID."""

    public_id_prefix = ""
    public_id = models.CharField(max_length=80, default=None)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = ids.mint(self.public_id_prefix)
        super().save(*args, **kwargs)

    def __str__(self):
        return self.public_id


class Visitor(PublicIdModel):
    """One browser, known by its first-party `vis_` cookie."""

    public_id_prefix = "vis"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(EndUser, null=True, blank=True, on_delete=models.CASCADE, related_name="visitors")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # linked_at: when the visitor was tied to its user (in the request that linked
    # it). stitched_at: when its history was rewritten to the user (the task).
    linked_at = models.DateTimeField(null=True, blank=True)
    stitched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "public_id"], name="visitor_unique_env_public_id"),
        ]
        indexes = [
            # Profiles: a user's visitors.
            models.Index(fields=["environment", "user"], name="visitor_env_user"),
            # Retention purge: never-linked visitors idle for longer than the retention.
            models.Index(
                fields=["environment", "last_seen_at"],
                name="visitor_env_anon_last_seen",
                condition=Q(user__isnull=True),
            ),
            # Sweep for links whose history rewrite has not completed.
            models.Index(
                fields=["linked_at"],
                name="visitor_pending_stitch",
                condition=Q(linked_at__isnull=False, stitched_at__isnull=True),
            ),
        ]


class TrafficFields(models.Model):
    """Where a session came from and on what device: copied from its first pageview."""

    hostname = models.CharField(max_length=253, blank=True)
    referrer_host = models.CharField(max_length=253, blank=True)
    referrer_path = models.CharField(max_length=2048, blank=True)
    source = models.CharField(max_length=200, blank=True)
    channel = models.CharField(max_length=32, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    browser = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=64, blank=True)
    device_type = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=128, blank=True)
    city = models.CharField(max_length=128, blank=True)

    class Meta:
        abstract = True


class Session(TrafficFields, PublicIdModel):
    """A visitor's run of activity with no gap longer than the environment's timeout."""

    public_id_prefix = "ses"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="sessions")
    user = models.ForeignKey(EndUser, null=True, blank=True, on_delete=models.CASCADE, related_name="sessions")
    started_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField(default=0)
    pageview_count = models.PositiveIntegerField(default=0)
    event_count = models.PositiveIntegerField(default=0)
    is_bounce = models.BooleanField(default=False)
    # Times of the first and last pageview decide the entry and exit page when
    # items arrive out of order.
    first_pageview_at = models.DateTimeField(null=True, blank=True)
    last_pageview_at = models.DateTimeField(null=True, blank=True)
    entry_path = models.CharField(max_length=2048, blank=True)
    # utm_medium, or the medium the referrer implies ("organic", "referral", …).
    medium = models.CharField(max_length=200, blank=True)
    exit_path = models.CharField(max_length=2048, blank=True)
    screen_width = models.PositiveIntegerField(null=True, blank=True)
    screen_height = models.PositiveIntegerField(null=True, blank=True)
    locale = models.CharField(max_length=35, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "public_id"], name="session_unique_env_public_id"),
        ]
        indexes = [
            # Dashboard: sessions started in a time range. Conversion paths: the visitors of
            # those sessions, read from the index alone.
            models.Index(fields=["environment", "started_at"], include=["visitor"], name="session_env_started"),
            # Ingestion: the visitor's sessions near an item's time.
            models.Index(fields=["environment", "visitor", "last_activity_at"], name="session_env_visitor_last"),
            # Profiles and conversion paths: a user's sessions in order.
            models.Index(fields=["environment", "user", "started_at"], name="session_env_user_started"),
        ]

    def recompute_derived(self):
        self.duration_seconds = max(0, int((self.last_activity_at - self.started_at).total_seconds()))
        self.is_bounce = self.pageview_count == 1 and self.event_count == 0


# The longest page path the funnel index holds (characters; at most 4 bytes each).
FUNNEL_PATH_MAX = 500


class Pageview(TrafficFields, models.Model):
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # The hot tables' references are not constrained in the database (db_constraint):
    # each row's checks, one query per reference, were two fifths of PostgreSQL's cost
    # of storing a pageview. The writer creates a row's visitor and session in the same
    # transaction, under the visitor's lock, and deletion cascades through Django.
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="pageviews", db_constraint=False)
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="pageviews", db_constraint=False)
    user = models.ForeignKey(
        EndUser, null=True, blank=True, on_delete=models.CASCADE, related_name="pageviews", db_constraint=False
    )
    message_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    path = models.CharField(max_length=2048)
    title = models.CharField(max_length=512, blank=True)

    class Meta:
        constraints = [
            # Dedupe: a second delivery of one item is stored once, even concurrently.
            models.UniqueConstraint(fields=["environment", "message_id"], name="pageview_unique_env_message"),
        ]
        indexes = [
            # Dashboard: pageviews in a time range, broken down by any column.
            models.Index(fields=["environment", "timestamp"], name="pageview_env_time"),
            # Stitching and purge: a visitor's pageviews.
            models.Index(fields=["environment", "visitor", "timestamp"], name="pageview_env_visitor_time"),
            # Timelines: a user's pageviews, oldest first.
            models.Index(fields=["environment", "user", "timestamp"], name="pageview_env_user_time"),
            # Page flows: pageviews of a session in order.
            models.Index(fields=["environment", "session", "timestamp"], name="pageview_env_session_time"),
            # Funnels: the views of a step's page, with what the funnel walk needs, read from
            # the index alone. Partial: a btree entry holds at most ~2,700 bytes, and a path of
            # 2,048 characters can be longer in UTF-8; a funnel step is never that long.
            models.Index(
                fields=["environment", "path", "visitor", "timestamp", "id"],
                condition=Q(LessThanOrEqual(Length("path"), FUNNEL_PATH_MAX)),
                name="pageview_env_path_visitor",
            ),
        ]


class Event(PublicIdModel):
    """A tracked event: browser `app.*`, server `app.*`, or a built-in `user.*`."""

    public_id_prefix = "evt"

    class Kind(models.TextChoices):
        BROWSER = "browser"
        SERVER = "server"
        BUILTIN = "builtin"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Unconstrained in the database, as on Pageview.
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    visitor = models.ForeignKey(
        Visitor, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    user = models.ForeignKey(
        EndUser, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=205)
    properties = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=80)
    timestamp = models.DateTimeField()
    hostname = models.CharField(max_length=253, blank=True)
    path = models.CharField(max_length=2048, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "public_id"], name="event_unique_env_public_id"),
            models.UniqueConstraint(fields=["environment", "message_id"], name="event_unique_env_message"),
        ]
        indexes = [
            # Dashboard: events in a time range, by name.
            models.Index(fields=["environment", "timestamp"], name="event_env_time"),
            models.Index(fields=["environment", "name", "timestamp"], name="event_env_name_time"),
            # Stitching and purge: a visitor's events.
            models.Index(fields=["environment", "visitor", "timestamp"], name="event_env_visitor_time"),
            # Timelines: a user's events, oldest first.
            models.Index(fields=["environment", "user", "timestamp"], name="event_env_user_time"),
        ]


class Attribution(models.Model):
    """Where someone came from: a visitor's first touch, or a user's signup touch."""

    class Kind(models.TextChoices):
        FIRST_TOUCH = "first_touch"
        SIGNUP_TOUCH = "signup_touch"

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    visitor = models.ForeignKey(Visitor, null=True, blank=True, on_delete=models.CASCADE, related_name="attributions")
    user = models.ForeignKey(EndUser, null=True, blank=True, on_delete=models.CASCADE, related_name="attributions")
    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=32, blank=True)
    source = models.CharField(max_length=200, blank=True)
    medium = models.CharField(max_length=200, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    term = models.CharField(max_length=200, blank=True)
    content = models.CharField(max_length=200, blank=True)
    referrer = models.CharField(max_length=2048, blank=True)
    referring_domain = models.CharField(max_length=253, blank=True)
    landing_page = models.CharField(max_length=2048, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["visitor"], condition=Q(kind="first_touch"), name="attribution_one_first_touch_per_visitor"
            ),
            models.UniqueConstraint(
                fields=["user"], condition=Q(kind="signup_touch"), name="attribution_one_signup_touch_per_user"
            ),
        ]
        indexes = [
            # Conversion paths: first touches in a time range.
            models.Index(fields=["environment", "kind", "at"], name="attribution_env_kind_at"),
            # Conversion paths: the first touch of each of the period's visitors (and of each
            # user's visitors), its channel, source, campaign and time read from the index alone.
            models.Index(
                fields=["environment", "visitor"],
                include=["channel", "source", "campaign", "at"],
                condition=Q(kind="first_touch"),
                name="attribution_env_first_touch",
            ),
        ]

    def __str__(self):
        return f"{self.kind}: {self.channel} / {self.source}"


class BotHit(models.Model):
    """Items dropped because a known bot sent them, counted per environment and day."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["environment", "day"], name="bothit_unique_env_day")]


class OutboxEntry(models.Model):
    """An event waiting to be handed to journeys and webhooks, written with the event.

    The dispatcher claims a row with a conditional update, so two workers never hand
    the same event on twice.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="outbox_entry")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "outbox entries"
        indexes = [
            models.Index(fields=["created_at"], name="outbox_pending", condition=Q(dispatched_at__isnull=True)),
        ]


class CollectBatch(models.Model):
    """A browser batch accepted and durably queued, waiting for the collect writer.

    Only in queued mode (COLLECT_QUEUE). The payload holds the validated items and
    the enriched client (device and place), never the client address, as UTF-8 JSON
    (`services.collect.batch_payload`). It is bytes, not jsonb: nothing queries inside
    it, and PostgreSQL would parse every queued batch into jsonb and print it back to
    text for the writer, about 40 % of the queue insert's server CPU.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    visitor_public_id = models.CharField(max_length=80)
    received_at = models.DateTimeField(default=timezone.now)
    payload = models.BinaryField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "collect batches"
        indexes = [
            # The writer takes the oldest batches that have not failed too often.
            models.Index(fields=["id"], name="collectbatch_pending", condition=Q(attempts__lt=5)),
        ]


class RollupState(models.Model):
    """An environment whose report rollups are built, and the time zone its days are in.

    Reports read the rollups only while `time_zone` is still the environment's: after a
    change the days would be wrong, so they read the raw rows until a rebuild.
    """

    environment = models.OneToOneField(Environment, on_delete=models.CASCADE, related_name="+")
    time_zone = models.CharField(max_length=64)
    built_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()


class RollupDirtyDay(models.Model):
    """A local day whose raw rows changed since the rollups last read them.

    Not unique per day, on purpose: a writer only ever inserts, so it never waits on
    another writer's mark nor on a refresh that is deleting the marks it read.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    day = models.DateField()


class RollupDay(models.Model):
    """Additive sums per local day and property value: every metric but visitors.

    `property` is "" for the whole environment (value ""), a breakdown property
    (`channel`, `page`, `event`, …) otherwise. Sessions (and their pageviews, bounces
    and durations) count on the day they started, events on their own day, signups on
    the user's creation day: the days the raw reports put them in, so summing days is exact.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    property = models.CharField(max_length=16)
    value = models.CharField(max_length=2048)
    sessions = models.PositiveIntegerField(default=0)
    pageviews = models.PositiveIntegerField(default=0)
    bounces = models.PositiveIntegerField(default=0)
    durations = models.PositiveBigIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    signups = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # Reports: one property's rows over a period.
            models.Index(fields=["environment", "property", "day"], name="rollupday_env_property_day"),
            # Refresh: the rows from the first recomputed day on.
            models.Index(fields=["environment", "day"], name="rollupday_env_day"),
        ]


class RollupVisitors(models.Model):
    """Visitors per local day and property value, by the gap since the visitor's previous day.

    See `analytics.stats.rollups` for why this makes distinct visitors over any period exact.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    property = models.CharField(max_length=16)
    value = models.CharField(max_length=2048)
    # Days since the visitor was last active with this value; NULL: not in the horizon.
    gap = models.PositiveSmallIntegerField(null=True)
    visitors = models.PositiveIntegerField()

    class Meta:
        indexes = [
            # Reports: one property's rows over a period.
            models.Index(fields=["environment", "property", "day"], name="rollupvisitors_env_prop_day"),
            # Refresh: the rows from the first recomputed day on.
            models.Index(fields=["environment", "day"], name="rollupvisitors_env_day"),
        ]


class RollupFlow(models.Model):
    """Sessions per local day that viewed `page` at `step` of a flow, then `next_page`.

    `start_page` "" is the flow from each session's entry; a path, the flow from the
    session's first view of that page (step 1 is that page). `next_page` NULL: the
    session left at that page. Steps 1 to 5, reloads not counted (see flows.py).
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    start_page = models.CharField(max_length=2048)
    step = models.PositiveSmallIntegerField()
    page = models.CharField(max_length=2048)
    next_page = models.CharField(max_length=2048, null=True)
    sessions = models.PositiveIntegerField()

    class Meta:
        indexes = [
            # Page flows: the steps from one start over a period.
            models.Index(fields=["environment", "start_page", "day"], name="rollupflow_env_start_day"),
            # Refresh: the rows from the first recomputed day on.
            models.Index(fields=["environment", "day"], name="rollupflow_env_day"),
        ]


class RollupTrail(models.Model):
    """A local day's pageviews of one page, or events of one name, packed for funnels.

    `items` holds each item as three big-endian 64-bit integers, visitor ID, time
    (microseconds since 2000, PostgreSQL's own) and ID, in that order of sorting. A
    funnel over a month of a busy page then reads a few dozen values where the raw
    rows are hundreds of thousands of tuples, each costing the database a microsecond.
    """

    class Kind(models.IntegerChoices):
        PAGEVIEW = 0
        EVENT = 1

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    key = models.CharField(max_length=2048)  # the path or the event name
    items = models.BinaryField()

    class Meta:
        indexes = [
            # Funnels: one step's rows over a period.
            models.Index(fields=["environment", "kind", "key", "day"], name="rolluptrail_env_kind_key_day"),
            # Refresh: the rows from the first recomputed day on.
            models.Index(fields=["environment", "day"], name="rolluptrail_env_day"),
        ]


class RollupSignup(models.Model):
    """A user created on a local day, as conversion paths count them (see stats/signups.py).

    One row per user: the first touch (all "" without one), the time and sessions from
    it to the signup (NULL without one) and the way into signup (NULL without a signup
    session). A user's row is recomputed whenever a day up to its signup is.
    """

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=32)
    source = models.CharField(max_length=200)
    campaign = models.CharField(max_length=200)
    seconds = models.FloatField(null=True)
    sessions = models.PositiveIntegerField(null=True)
    path = models.JSONField(null=True)

    class Meta:
        indexes = [models.Index(fields=["environment", "day"], name="rollupsignup_env_day")]
