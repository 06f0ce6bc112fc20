"""Visitors: the rows every write of a visitor's data starts by locking.

One lock order everywhere: visitors are created in (environment, public ID)
order and then locked in primary-key order, whoever writes (collect, business
events, linking). Two transactions that need the same visitors then wait on each
other in the same order and can never deadlock.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from identity.models import Environment

from ..models import Visitor
from .bulk import instances_select, pg_rows


@dataclass(frozen=True)
class VisitorWanted:
    environment: Environment
    public_id: str
    # Seen times for a visitor that is new; an existing one keeps its own.
    first_at: datetime | None = None
    last_at: datetime | None = None


def visitors_lock(*, wanted: list[VisitorWanted]) -> dict[tuple[int, str], Visitor]:
    """The visitors' rows, created when new, locked until the caller's transaction ends.

    Insert-or-ignore then lock, rather than get_or_create: two requests for the same
    new visitor never raise, and the second waits on the first's row lock and then
    sees what it wrote (its `user_id`). Keyed by (environment ID, public ID).
    """
    if not wanted:
        return {}
    now = timezone.now()
    ordered = sorted(wanted, key=lambda want: (want.environment.id, want.public_id))
    _visitors_insert_new(
        [(want.environment.id, want.public_id, want.first_at or now, want.last_at or now) for want in ordered]
    )
    public_ids = defaultdict(set)
    for want in wanted:
        public_ids[want.environment.id].add(want.public_id)
    locked = _locked_in_key_order(public_ids)
    return {(visitor.environment_id, visitor.public_id): visitor for visitor in locked}


def _visitors_insert_new(rows: list[tuple[int, str, datetime, datetime]]) -> None:
    """Insert (environment ID, public ID, first seen, last seen) where the visitor is new, in the order given."""
    if connection.vendor == "postgresql":
        # One statement of four arrays, whatever the number of visitors.
        columns = list(zip(*rows, strict=True))
        pg_rows(
            f"INSERT INTO {Visitor._meta.db_table} (environment_id, public_id, first_seen_at, last_seen_at) "
            "SELECT environment_id, public_id, first_seen_at, last_seen_at FROM "
            "unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[]) WITH ORDINALITY "
            "AS wanted (environment_id, public_id, first_seen_at, last_seen_at, position) "
            "ORDER BY position ON CONFLICT DO NOTHING",
            [list(column) for column in columns],
        )
        return
    Visitor.objects.bulk_create(
        [
            Visitor(environment_id=environment_id, public_id=public_id, first_seen_at=first_at, last_seen_at=last_at)
            for environment_id, public_id, first_at, last_at in rows
        ],
        ignore_conflicts=True,
    )


def _locked_in_key_order(public_ids: dict[int, set[str]]):
    if connection.vendor == "postgresql":
        # One array per environment rather than an IN list the ORM prepares value by value.
        conditions = " OR ".join(["(environment_id = %s AND public_id = ANY(%s))"] * len(public_ids))
        params = [value for env, pids in public_ids.items() for value in (env, list(pids))]
        return instances_select(Visitor, where=conditions, params=params, then="ORDER BY id FOR UPDATE")
    condition = reduce(or_, (Q(environment_id=env, public_id__in=pids) for env, pids in public_ids.items()))
    return Visitor.objects.select_for_update().filter(condition).order_by("pk")


def visitor_get_for_update(*, environment: Environment, public_id: str) -> Visitor:
    """One visitor's row, created when new, locked until the caller's transaction ends."""
    locked = visitors_lock(wanted=[VisitorWanted(environment=environment, public_id=public_id)])
    return locked[(environment.id, public_id)]
