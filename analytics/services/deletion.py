"""Deleting visitors and users: the retention purge and a user's erasure.

Both delete in small batches, child rows first (events, pageviews, sessions,
attributions), then the visitors, each batch in its own short transaction. A
long delete would hold its locks, and on SQLite the database's single write lock,
for as long as it runs, and ingestion would wait behind it.

Each batch deletes by primary key through `QuerySet.delete()` rather than
`_raw_delete()`: with the children already gone its cascade lookups find nothing
and cost little, while it still removes what hangs off a row (an event's outbox
entry, and whatever other apps attach to these models later).
`.only("pk")` keeps it from loading event properties it would only throw away.
"""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from identity.models import EndUser, Environment, UserToken

from ..models import Attribution, Event, Pageview, Session, Visitor
from ..stats.rollups import rollup_day_mark, rollup_rows_first_day, rollup_rows_touch

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000

# Child-first: a session goes only after its pageviews and events, so deleting it
# never cascades to an unbounded number of rows.
_VISITOR_CHILDREN: tuple[type[Model], ...] = (Event, Pageview, Session, Attribution)


@dataclass(frozen=True)
class PurgeResult:
    visitors: int = 0
    sessions: int = 0
    pageviews: int = 0
    events: int = 0
    attributions: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {
            "visitors": self.visitors,
            "sessions": self.sessions,
            "pageviews": self.pageviews,
            "events": self.events,
            "attributions": self.attributions,
            "dryRun": self.dry_run,
        }


@dataclass(frozen=True)
class ErasureReceipt:
    users: int
    visitors: int
    sessions: int
    pageviews: int
    events: int

    def as_dict(self) -> dict:
        return {
            "deleted": {
                "users": self.users,
                "visitors": self.visitors,
                "sessions": self.sessions,
                "pageviews": self.pageviews,
                "events": self.events,
            }
        }


def _count(counts: Counter, model: type[Model]) -> int:
    return counts[model._meta.label]


def _delete_pks(model: type[Model], pks: list, counts: Counter) -> None:
    """Delete these rows of `model` and what cascades from them, tallying per model.

    `QuerySet.delete()` runs in a transaction of its own unless the caller has one.
    """
    _, per_model = model._base_manager.filter(pk__in=pks).only("pk").delete()
    counts.update(per_model)


def _delete_in_batches(queryset: QuerySet, *, batch_size: int, counts: Counter) -> None:
    """Delete every row of `queryset`, `batch_size` primary keys per transaction."""
    while True:
        pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not pks:
            return
        _delete_pks(queryset.model, pks, counts)
        if len(pks) < batch_size:
            return


def _visitors_delete_step(
    *, environment_id: int, visitors: QuerySet, visitor_ids: list[int], batch_size: int, counts: Counter
) -> bool:
    """Delete the next rows these visitors own, then the visitors; True once they are gone.

    At most `batch_size` rows of each kind, child-first, stopping at the first kind
    that fills its batch, so one call stays short. Runs inside the caller's
    transaction. `visitors` is the caller's condition for the visitors themselves
    (already restricted to `visitor_ids`), so the final delete re-checks it in the
    statement.
    """
    rollup_rows_touch(environment_id=environment_id, visitor_ids=visitor_ids)
    for model in _VISITOR_CHILDREN:
        pks = list(
            model._base_manager.filter(environment_id=environment_id, visitor_id__in=visitor_ids)
            .order_by()
            .values_list("pk", flat=True)[:batch_size]
        )
        if pks:
            _delete_pks(model, pks, counts)
        if len(pks) == batch_size:
            # More may remain: the rest waits for the next transaction.
            return False
    _, per_model = visitors.only("pk").delete()
    counts.update(per_model)
    return True


# --- Retention purge ----------------------------------------------------------------


def _purgeable_visitors(*, environment_id: int, cutoff: datetime) -> QuerySet:
    # Served by the partial index `visitor_env_anon_last_seen`.
    return Visitor.objects.filter(environment_id=environment_id, user__isnull=True, last_seen_at__lt=cutoff)


def _purge_environment(*, environment_id: int, cutoff: datetime, batch_size: int, counts: Counter) -> None:
    while True:
        before = sum(counts.values())
        with transaction.atomic():
            # Lock the batch and re-check the condition under the lock: a visitor
            # that came back or got linked since is no longer selected, and one
            # that ingestion holds right now is skipped rather than waited for (it
            # is active, so it is not purgeable). On SQLite the IMMEDIATE
            # transaction serialises writers instead, and the clause is dropped.
            visitor_ids = list(
                _purgeable_visitors(environment_id=environment_id, cutoff=cutoff)
                .select_for_update(skip_locked=True)
                .order_by("last_seen_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not visitor_ids:
                return
            _visitors_delete_step(
                environment_id=environment_id,
                visitors=_purgeable_visitors(environment_id=environment_id, cutoff=cutoff).filter(pk__in=visitor_ids),
                visitor_ids=visitor_ids,
                batch_size=batch_size,
                counts=counts,
            )
        if sum(counts.values()) == before:
            # Nothing could be deleted: stop rather than spin on the same rows.
            logger.warning("Purge made no progress in environment %s; stopping.", environment_id)
            return


def _purge_dry_run(*, environment_id: int, cutoff: datetime, counts: Counter) -> None:
    visitors = _purgeable_visitors(environment_id=environment_id, cutoff=cutoff)
    counts[Visitor._meta.label] += visitors.count()
    owned = visitors.values("pk")
    for model in _VISITOR_CHILDREN:
        counts[model._meta.label] += model._base_manager.filter(
            environment_id=environment_id, visitor_id__in=owned
        ).count()


def visitors_purge_anonymous(
    *,
    older_than_days: int | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> PurgeResult:
    """Delete never-linked visitors idle for longer than their environment's retention.

    `older_than_days` overrides every environment's `anonymous_retention_days` for
    this run. With `dry_run` nothing is deleted and the counts say what would be.

    A batch that holds more child rows than `batch_size` is finished over several
    transactions, each re-checking the condition first; if the visitor comes back
    in between, it stays, without the old rows already removed.
    """
    if older_than_days is not None and older_than_days < 0:
        raise ValueError("older_than_days must not be negative.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    now = now or timezone.now()
    counts: Counter = Counter()
    for environment_id, retention_days in Environment.objects.order_by("pk").values_list(
        "pk", "anonymous_retention_days"
    ):
        days = older_than_days if older_than_days is not None else retention_days
        cutoff = now - timedelta(days=days)
        if dry_run:
            _purge_dry_run(environment_id=environment_id, cutoff=cutoff, counts=counts)
        else:
            _purge_environment(environment_id=environment_id, cutoff=cutoff, batch_size=batch_size, counts=counts)
    return PurgeResult(
        visitors=_count(counts, Visitor),
        sessions=_count(counts, Session),
        pageviews=_count(counts, Pageview),
        events=_count(counts, Event),
        attributions=_count(counts, Attribution),
        dry_run=dry_run,
    )


# --- Erasure ------------------------------------------------------------------------


def user_erase(*, user: EndUser, batch_size: int = DEFAULT_BATCH_SIZE) -> ErasureReceipt:
    """Delete a user and every row linked to them, in batches; the user row goes last.

    Linked means: all rows of the user's visitors (pre-signup ones whose `user` is
    still empty included), and every session, pageview, event (built-in `user.*`
    ones too), attribution and token that names the user. The final delete of the
    user cascades to anything linked while the erasure ran.
    """
    environment_id = user.environment_id
    counts: Counter = Counter()
    # The user's signup and the rows that name the user leave the reports from this day on.
    first_day = rollup_rows_first_day(environment_id=environment_id, user=user)

    while True:
        visitor_ids = list(
            Visitor.objects.filter(environment_id=environment_id, user_id=user.pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not visitor_ids:
            break
        done = False
        while not done:
            with transaction.atomic():
                done = _visitors_delete_step(
                    environment_id=environment_id,
                    visitors=Visitor.objects.filter(environment_id=environment_id, pk__in=visitor_ids),
                    visitor_ids=visitor_ids,
                    batch_size=batch_size,
                    counts=counts,
                )

    # Rows that name the user without belonging to one of their visitors (a
    # server-side event with no visitor, for one).
    for model in (*_VISITOR_CHILDREN, UserToken):
        _delete_in_batches(
            model._base_manager.filter(environment_id=environment_id, user_id=user.pk),
            batch_size=batch_size,
            counts=counts,
        )

    _delete_pks(EndUser, [user.pk], counts)
    rollup_day_mark(environment_id=environment_id, day=first_day)

    return ErasureReceipt(
        users=_count(counts, EndUser),
        visitors=_count(counts, Visitor),
        sessions=_count(counts, Session),
        pageviews=_count(counts, Pageview),
        events=_count(counts, Event),
    )
