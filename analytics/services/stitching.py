"""Stitching: linking a visitor to a user, then moving its history to them (SPEC 5).

Linking happens in the request that causes it (signup, login, identify, a business
event with a `visitorId`) and only sets `Visitor.user`. Rewriting the history and
the user's attribution runs afterwards in the `stitch_visitor` task, so the request
never waits for a visitor with 50,000 pageviews.

Why the rewrite cannot miss a row that collect writes while it runs: collect takes
the visitor's row lock before it reads `visitor.user_id`, and `visitor_link` sets
`user_id` under the same lock. A collect batch that got the lock first committed
its rows (with `user_id` NULL) before the link could even take the lock, so they
are there when the task, queued on the link's commit, starts. A batch that gets
the lock after the link reads the new `user_id` and stamps its rows with it at
once. Between the task's `UPDATE … WHERE user_id IS NULL` and collect's stamping,
every row ends up with the user.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from ascendkit_site import ids
from ascendkit_site.queue import enqueue_on_commit
from identity.models import EndUser, Environment

from ..models import Attribution, Event, Pageview, Session, Visitor
from ..selectors import user_first_touch
from ..stats.rollups import rollup_days_touch
from .visitors import visitor_get_for_update

# Rows rewritten per statement: each batch is its own short transaction, so a long
# history never holds row locks that collect or the purge would wait on.
STITCH_BATCH_SIZE = 5_000

STITCH_TASK = "analytics.tasks.stitch_visitor"

# A link whose history is not rewritten after this long lost its task (a broker
# outage after commit, a worker killed mid-run); the sweep queues it again.
STITCH_SWEEP_AFTER = timedelta(minutes=1)


class LinkOutcome(enum.Enum):
    LINKED = "linked"  # the visitor was anonymous and is now the user's
    ALREADY_LINKED = "already_linked"  # it was this user's already: nothing changed
    CONFLICT = "conflict"  # it belongs to another user and stays theirs (SPEC 5, rule 4)
    IGNORED = "ignored"  # not a valid `vis_` ID: nothing to link


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    visitor: Visitor | None

    @property
    def linked(self) -> bool:
        """The visitor is the user's now (newly or already)."""
        return self.outcome in (LinkOutcome.LINKED, LinkOutcome.ALREADY_LINKED)


@dataclass(frozen=True)
class StitchResult:
    sessions: int = 0
    pageviews: int = 0
    events: int = 0
    first_touch_id: int | None = None
    signup_touch_id: int | None = None


def visitor_link(
    *, environment: Environment, user: EndUser, visitor_public_id: str, signup: bool = False
) -> LinkResult:
    """Link a visitor to a user inside the caller's transaction; the rewrite is queued on commit.

    The visitor is created when unknown (a server may identify a browser whose
    traffic has not arrived yet). `signup=True` records that the user signed up on
    this visitor, for the signup touch. Idempotent: linking again changes nothing.
    """
    if not ids.is_visitor_id(visitor_public_id):
        return LinkResult(outcome=LinkOutcome.IGNORED, visitor=None)
    if user.environment_id != environment.id:
        raise ValueError("The user belongs to another environment.")

    with transaction.atomic():
        visitor = visitor_get_for_update(environment=environment, public_id=visitor_public_id)
        if visitor.user_id is None:
            visitor.user = user
            visitor.linked_at = timezone.now()
            visitor.stitched_at = None
            visitor.save(update_fields=["user", "linked_at", "stitched_at"])
            outcome = LinkOutcome.LINKED
        elif visitor.user_id == user.id:
            outcome = LinkOutcome.ALREADY_LINKED
        else:
            # Never moved: its later traffic stays with its first user. Counted with
            # F() so concurrent conflicts on one user all count.
            EndUser.objects.filter(pk=user.pk).update(link_conflicts=F("link_conflicts") + 1)
            return LinkResult(outcome=LinkOutcome.CONFLICT, visitor=visitor)

        if signup:
            _signup_marker_record(user=user, visitor=visitor)
        if outcome is LinkOutcome.LINKED or signup:
            enqueue_on_commit(STITCH_TASK, visitor.id)
    return LinkResult(outcome=outcome, visitor=visitor)


def visitor_restitch_on_commit(*, visitor: Visitor) -> None:
    """Queue the stitch again for a linked visitor whose traffic arrived after the link.

    For collect: when a linked visitor gains its first touch or a session that
    starts earlier than the ones it had (the browser delivered the pages before
    signup only after the signup call), the user's first and signup touches must
    be recomputed. Call inside the transaction that stored the traffic.
    """
    if visitor.user_id is None:
        return
    # Marked pending in the same transaction: if the broker cannot take the task,
    # the periodic sweep still finds the visitor and recomputes the touches.
    Visitor.objects.filter(pk=visitor.pk).update(stitched_at=None)
    enqueue_on_commit(STITCH_TASK, visitor.id)


def _signup_marker_record(*, user: EndUser, visitor: Visitor) -> None:
    """Remember the visitor the user signed up on; the stitch fills in the source.

    The row is the user's signup-touch Attribution with no session yet. The task
    fills it from the visitor's session at signup time once that session is known
    (the browser may deliver the pageviews of that session after the signup call);
    until then it has no session, and `user_signup_touch` does not answer it.
    """
    Attribution.objects.update_or_create(
        user=user,
        kind=Attribution.Kind.SIGNUP_TOUCH,
        defaults={"environment_id": user.environment_id, "visitor": visitor},
        create_defaults={"environment_id": user.environment_id, "visitor": visitor, "at": user.created_at},
    )


def visitor_stitch(*, visitor_id: int) -> StitchResult:
    """Give a linked visitor's history to its user and recompute the user's touches.

    Idempotent and safe to run twice at once: every write either only fills NULLs
    or sets a value computed from committed rows. A visitor that is gone (erased)
    or not linked yields an empty result.
    """
    visitor = Visitor.objects.filter(pk=visitor_id).select_related("user").first()
    if visitor is None or visitor.user is None:
        return StitchResult()
    user = visitor.user

    sessions = _rows_give_to_user(Session, visitor, user.id)
    pageviews = _rows_give_to_user(Pageview, visitor, user.id)
    events = _rows_give_to_user(Event, visitor, user.id)
    # The visitor's first touch carries the user too, so reports on attribution
    # can filter by user without going through the visitor.
    Attribution.objects.filter(visitor=visitor, kind=Attribution.Kind.FIRST_TOUCH, user__isnull=True).update(
        user_id=user.id
    )

    first_touch = user_first_touch(user=user)
    signup_touch_id = _signup_touch_refresh(user)
    Visitor.objects.filter(pk=visitor.pk, user_id=user.id).update(stitched_at=timezone.now())
    return StitchResult(
        sessions=sessions,
        pageviews=pageviews,
        events=events,
        first_touch_id=first_touch.pk if first_touch else None,
        signup_touch_id=signup_touch_id,
    )


def visitors_stitch(*, visitor_ids: list[int]) -> int:
    """`visitor_stitch` for many linked visitors at once; answers how many were stitched.

    For bulk writers (demo traffic) whose visitors have short histories: each table
    is rewritten in one statement for all of them, rather than a dozen statements a
    visitor; each user's signup touch is still worked out on its own.
    """
    visitors = list(Visitor.objects.filter(pk__in=visitor_ids, user__isnull=False).select_related("user"))
    if not visitors:
        return 0
    pks = [visitor.pk for visitor in visitors]
    environment_ids = {visitor.environment_id for visitor in visitors}
    own_user = Subquery(Visitor.objects.filter(pk=OuterRef("visitor_id")).values("user_id")[:1])
    for model in (Session, Pageview, Event):
        model.objects.filter(environment_id__in=environment_ids, visitor_id__in=pks, user__isnull=True).update(
            user_id=own_user
        )
    Attribution.objects.filter(
        environment_id__in=environment_ids, visitor_id__in=pks, kind=Attribution.Kind.FIRST_TOUCH, user__isnull=True
    ).update(user_id=own_user)
    for user in {visitor.user_id: visitor.user for visitor in visitors}.values():
        _signup_touch_refresh(user)
    Visitor.objects.filter(environment_id__in=environment_ids, pk__in=pks, user__isnull=False).update(
        stitched_at=timezone.now()
    )
    return len(pks)


def _rows_give_to_user(model, visitor: Visitor, user_id: int) -> int:
    """Set `user_id` on the visitor's rows that have none, a batch of primary keys at a time.

    Keyset pagination by primary key: each batch starts after the last, so rows
    already rewritten are not scanned again.
    """
    rewritten = 0
    last_pk = 0
    while True:
        pks = list(
            model.objects.filter(
                environment_id=visitor.environment_id, visitor_id=visitor.pk, user__isnull=True, pk__gt=last_pk
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:STITCH_BATCH_SIZE]
        )
        if not pks:
            return rewritten
        # `user IS NULL` again: a row stamped since the select keeps its user.
        rewritten += model.objects.filter(pk__in=pks, user__isnull=True).update(user_id=user_id)
        last_pk = pks[-1]
        if len(pks) < STITCH_BATCH_SIZE:
            return rewritten


def _signup_touch_refresh(user: EndUser) -> int | None:
    """Fill the signup touch from the session the user signed up in (SPEC 5, rule 3).

    That session is the signup visitor's latest one started at or before the
    signup; failing that (the clock of the signup request ran ahead of the
    pageviews), the visitor's latest session. No session at all: no signup touch.
    """
    for attempt in range(2):
        marker = Attribution.objects.filter(user=user, kind=Attribution.Kind.SIGNUP_TOUCH).first()
        if marker is None or marker.visitor_id is None:
            return None
        sessions = Session.objects.filter(environment_id=user.environment_id, visitor_id=marker.visitor_id)
        session = (
            sessions.filter(started_at__lte=user.created_at).order_by("-started_at").first()
            or sessions.order_by("-started_at").first()
        )
        if session is None:
            return None
        before = _touch_fields(marker)
        attribution_fill_from_session(marker, session)
        if _touch_fields(marker) == before:
            return marker.pk
        try:
            with transaction.atomic():
                marker.save()
                # The signup now counts under another session's source, device and pages.
                rollup_days_touch(environments=[user.environment], users=[user])
            return marker.pk
        except IntegrityError:
            # Collect merged that session into another between our read and write
            # (the foreign key fails): read again, once.
            if attempt:
                raise
    return None


def attribution_fill_from_session(touch: Attribution, session: Session) -> None:
    """A touch is where a session came from: its first pageview's source and page."""
    touch.session = session
    touch.channel = session.channel
    touch.source = session.source
    touch.medium = session.medium or session.utm_medium
    touch.campaign = session.utm_campaign
    touch.term = session.utm_term
    touch.content = session.utm_content
    touch.referrer = f"{session.referrer_host}{session.referrer_path}" if session.referrer_host else ""
    touch.referring_domain = _referring_domain(session.referrer_host)
    touch.landing_page = session.entry_path
    touch.at = session.first_pageview_at or session.started_at


TOUCH_FIELDS = (
    "session_id",
    "channel",
    "source",
    "medium",
    "campaign",
    "term",
    "content",
    "referrer",
    "referring_domain",
    "landing_page",
    "at",
)


def _touch_fields(touch: Attribution) -> tuple:
    return tuple(getattr(touch, name) for name in TOUCH_FIELDS)


def _referring_domain(host: str) -> str:
    return host.removeprefix("www.")


def visitors_pending_stitch(*, now: datetime | None = None, limit: int = 1_000) -> list[int]:
    """IDs of linked visitors whose history rewrite has not completed a while after linking."""
    cutoff = (now or timezone.now()) - STITCH_SWEEP_AFTER
    return list(
        Visitor.objects.filter(linked_at__isnull=False, stitched_at__isnull=True, linked_at__lt=cutoff)
        .order_by("linked_at")
        .values_list("pk", flat=True)[:limit]
    )
