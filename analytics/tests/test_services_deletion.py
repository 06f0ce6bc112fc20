"""The retention purge and a user's erasure, at the service level."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction

from analytics.models import (
    Attribution,
    CollectBatch,
    Event,
    OutboxEntry,
    Pageview,
    RollupDirtyDay,
    Session,
    Visitor,
)
from analytics.services import deletion
from analytics.services.deletion import user_erase, visitors_purge_anonymous
from identity.models import EndUser, UserToken

from .factories import (
    AttributionFactory,
    EndUserFactory,
    EventFactory,
    PageviewFactory,
    SessionFactory,
    UserTokenFactory,
    VisitorFactory,
)

START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


def visitor_with_history(environment, *, user=None, history_user=None, pageviews=2, events=1, path="/p"):
    """A visitor with one session, its pageviews, events (each with an outbox entry) and first touch.

    `history_user` is the user stamped on the rows, which stays empty for
    pre-signup rows of a visitor whose history has not been rewritten yet.
    """
    visitor = VisitorFactory(environment=environment, user=user)
    session = SessionFactory(visitor=visitor, user=history_user, entry_path=path, exit_path=path)
    for i in range(pageviews):
        PageviewFactory(session=session, path=f"{path}/{i}")
    for _ in range(events):
        event = EventFactory(session=session, properties={"path": path})
        OutboxEntry.objects.create(environment=environment, event=event)
    AttributionFactory(visitor=visitor, landing_page=path)
    return visitor


def rows_of(visitor) -> dict:
    return {
        "visitors": Visitor.objects.filter(pk=visitor.pk).count(),
        "sessions": Session.objects.filter(visitor=visitor).count(),
        "pageviews": Pageview.objects.filter(visitor=visitor).count(),
        "events": Event.objects.filter(visitor=visitor).count(),
        "attributions": Attribution.objects.filter(visitor=visitor).count(),
    }


NOTHING = {"visitors": 0, "sessions": 0, "pageviews": 0, "events": 0, "attributions": 0}


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


# --- Retention purge ------------------------------------------------------------------


def test_it_removes_a_visitor_idle_for_longer_than_the_retention_with_all_its_rows(tenant, clock):
    visitor = visitor_with_history(tenant.environment, pageviews=3, events=2)
    clock.shift(timedelta(days=91))

    result = visitors_purge_anonymous()

    assert rows_of(visitor) == NOTHING
    assert OutboxEntry.objects.count() == 0
    assert (result.visitors, result.sessions, result.pageviews, result.events, result.attributions) == (1, 1, 3, 2, 1)
    assert result.dry_run is False


def test_it_keeps_a_visitor_idle_for_less_than_the_retention(tenant, clock):
    old = visitor_with_history(tenant.environment)
    clock.shift(timedelta(days=2))
    recent = visitor_with_history(tenant.environment)
    clock.shift(timedelta(days=89))

    result = visitors_purge_anonymous()

    assert result.visitors == 1
    assert rows_of(old) == NOTHING
    assert rows_of(recent) == {"visitors": 1, "sessions": 1, "pageviews": 2, "events": 1, "attributions": 1}


def test_it_keeps_a_linked_visitor_however_long_it_has_been_idle(tenant, clock):
    user = EndUserFactory(environment=tenant.environment)
    linked = visitor_with_history(tenant.environment, user=user, history_user=user)
    clock.shift(timedelta(days=200))

    result = visitors_purge_anonymous()

    assert result.visitors == 0
    assert rows_of(linked)["pageviews"] == 2
    assert Visitor.objects.get(pk=linked.pk).user == user


def test_each_environment_uses_its_own_retention(tenant, other_tenant, clock):
    tenant.environment.anonymous_retention_days = 30
    tenant.environment.save()
    short_retention = visitor_with_history(tenant.environment)
    long_retention = visitor_with_history(other_tenant.environment)
    clock.shift(timedelta(days=31))

    result = visitors_purge_anonymous()

    assert result.visitors == 1
    assert rows_of(short_retention) == NOTHING
    assert rows_of(long_retention)["pageviews"] == 2


def test_older_than_overrides_every_environments_retention(tenant, other_tenant, clock):
    idle_11_days = [visitor_with_history(tenant.environment), visitor_with_history(other_tenant.environment)]
    clock.shift(timedelta(days=2))
    idle_9_days = visitor_with_history(tenant.environment)
    clock.shift(timedelta(days=9))

    result = visitors_purge_anonymous(older_than_days=10)

    assert result.visitors == 2
    assert all(rows_of(visitor) == NOTHING for visitor in idle_11_days)
    assert rows_of(idle_9_days)["visitors"] == 1


def test_a_dry_run_deletes_nothing_and_counts_what_would_go(tenant, other_tenant, clock):
    visitor_with_history(tenant.environment, pageviews=3, events=2)
    visitor_with_history(other_tenant.environment, pageviews=1, events=0)
    clock.shift(timedelta(days=91))
    visitor_with_history(tenant.environment)

    result = visitors_purge_anonymous(dry_run=True)

    assert (result.visitors, result.sessions, result.pageviews, result.events, result.attributions) == (2, 2, 4, 2, 2)
    assert result.dry_run is True
    assert Visitor.objects.count() == 3
    assert Pageview.objects.count() == 6


def test_small_batches_still_remove_everything(tenant, other_tenant, clock):
    for i in range(5):
        visitor_with_history(tenant.environment, pageviews=3, events=3, path=f"/batch{i}")
    clock.shift(timedelta(days=91))
    kept = visitor_with_history(other_tenant.environment)
    fresh = visitor_with_history(tenant.environment)

    result = visitors_purge_anonymous(batch_size=2)

    assert (result.visitors, result.sessions, result.pageviews, result.events, result.attributions) == (5, 5, 15, 15, 5)
    assert set(Visitor.objects.values_list("pk", flat=True)) == {kept.pk, fresh.pk}
    assert Pageview.objects.count() == 4
    assert OutboxEntry.objects.count() == 2


def test_it_never_touches_other_environments_rows(tenant, other_tenant, clock):
    theirs = visitor_with_history(other_tenant.environment)
    other_tenant.environment.anonymous_retention_days = 365
    other_tenant.environment.save()
    mine = visitor_with_history(tenant.environment)
    clock.shift(timedelta(days=100))

    visitors_purge_anonymous()

    assert rows_of(mine) == NOTHING
    assert rows_of(theirs) == {"visitors": 1, "sessions": 1, "pageviews": 2, "events": 1, "attributions": 1}


def test_a_visitor_linked_while_its_rows_are_being_deleted_stays(tenant, clock, monkeypatch):
    visitor = visitor_with_history(tenant.environment, pageviews=5, events=0)
    user = EndUserFactory(environment=tenant.environment)
    clock.shift(timedelta(days=91))
    real_delete = deletion._delete_pks

    def delete_then_link(model, pks, counts):
        real_delete(model, pks, counts)
        # Signup with this visitor's ID lands between two of the purge's transactions.
        Visitor.objects.filter(pk=visitor.pk).update(user=user)

    monkeypatch.setattr(deletion, "_delete_pks", delete_then_link)

    result = visitors_purge_anonymous(batch_size=2)

    assert result.visitors == 0
    assert Visitor.objects.get(pk=visitor.pk).user == user
    # The batch deleted before the link is gone; nothing after it was touched.
    assert result.pageviews == 2
    assert rows_of(visitor) == {"visitors": 1, "sessions": 1, "pageviews": 3, "events": 0, "attributions": 1}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_skips_a_visitor_that_ingestion_holds_locked(tenant):
    now = datetime.now(UTC)
    held = VisitorFactory(environment=tenant.environment, first_seen_at=now - timedelta(days=100))
    free = VisitorFactory(environment=tenant.environment, first_seen_at=now - timedelta(days=100))
    locked, release = threading.Event(), threading.Event()

    def ingestion():
        try:
            with transaction.atomic():
                Visitor.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=ingestion)
    worker.start()
    try:
        assert locked.wait(10)
        result = visitors_purge_anonymous()
    finally:
        release.set()
        worker.join()

    assert result.visitors == 1
    assert list(Visitor.objects.values_list("pk", flat=True)) == [held.pk]
    assert not Visitor.objects.filter(pk=free.pk).exists()


def test_it_rejects_a_negative_idle_time(db):
    with pytest.raises(ValueError):
        visitors_purge_anonymous(older_than_days=-1)


def test_the_visitor_lookup_uses_the_partial_index(tenant):
    if connection.vendor != "postgresql":
        pytest.skip("the plan is checked on PostgreSQL")
    VisitorFactory.create_batch(3, environment=tenant.environment)
    queryset = deletion._purgeable_visitors(environment_id=tenant.environment.pk, cutoff=START).order_by("last_seen_at")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "visitor_env_anon_last_seen" in plan


# --- Erasure --------------------------------------------------------------------------


@pytest.fixture
def erased_user(tenant):
    """A user with a pre-signup device (rows not yet rewritten), a linked device, and server rows."""
    user = EndUserFactory(environment=tenant.environment, email="erase-me-7f3k@example.com")
    phone = visitor_with_history(tenant.environment, user=user, history_user=None, pageviews=2, path="/erase-phone")
    laptop = visitor_with_history(tenant.environment, user=user, history_user=user, pageviews=3, path="/erase-laptop")
    # A built-in event of the user with no visitor, with its outbox entry.
    created = EventFactory(
        session=None, visitor=None, user=user, kind=Event.Kind.BUILTIN, name="user.created", properties={}
    )
    OutboxEntry.objects.create(environment=tenant.environment, event=created)
    AttributionFactory(kind=Attribution.Kind.SIGNUP_TOUCH, visitor=None, user=user, landing_page="/erase-signup")
    UserTokenFactory(user=user)
    return user, [phone, laptop]


def test_erasure_leaves_no_trace_of_the_user(erased_user, db_dump):
    user, visitors = erased_user
    session_ids = list(Session.objects.filter(visitor__in=visitors).values_list("public_id", flat=True))
    event_ids = list(Event.objects.filter(user=user).values_list("public_id", flat=True))

    user_erase(user=user)

    dump = db_dump()
    traces = [user.email, user.public_id, *(v.public_id for v in visitors), *session_ids, *event_ids]
    traces += ["/erase-phone", "/erase-laptop", "/erase-signup"]
    assert [trace for trace in traces if trace in dump] == []
    assert not UserToken.objects.exists()
    assert not OutboxEntry.objects.exists()


def test_the_receipt_counts_what_was_deleted(erased_user):
    user, _ = erased_user

    receipt = user_erase(user=user)

    # Two visitors with a session each; 2 + 3 pageviews; one event per visitor plus user.created.
    assert receipt.as_dict() == {"deleted": {"users": 1, "visitors": 2, "sessions": 2, "pageviews": 5, "events": 3}}


def test_erasure_in_small_batches_removes_the_same(erased_user):
    user, _ = erased_user

    receipt = user_erase(user=user, batch_size=2)

    assert receipt.as_dict() == {"deleted": {"users": 1, "visitors": 2, "sessions": 2, "pageviews": 5, "events": 3}}
    assert not EndUser.objects.filter(pk=user.pk).exists()


def test_erasure_keeps_other_users_and_other_environments(erased_user, tenant, other_tenant):
    user, _ = erased_user
    teammate = EndUserFactory(environment=tenant.environment)
    theirs = visitor_with_history(tenant.environment, user=teammate, history_user=teammate)
    anonymous = visitor_with_history(tenant.environment)
    elsewhere = visitor_with_history(other_tenant.environment)

    user_erase(user=user)

    full = {"visitors": 1, "sessions": 1, "pageviews": 2, "events": 1, "attributions": 1}
    assert rows_of(theirs) == full
    assert rows_of(anonymous) == full
    assert rows_of(elsewhere) == full
    assert EndUser.objects.filter(pk=teammate.pk).exists()


def test_deleting_an_environment_takes_its_rows_and_queue_along(tenant, other_tenant):
    # The hot tables refer to their environment without a database constraint: the
    # cascade is Django's, and must leave nothing behind.
    environment = tenant.environment
    visitor_with_history(environment)
    kept = visitor_with_history(other_tenant.environment)
    CollectBatch.objects.create(environment=environment, visitor_public_id="vis_x", payload=b"{}")
    RollupDirtyDay.objects.create(environment=environment, day=START.date())

    environment_id = environment.pk
    environment.delete()

    for model in (Visitor, Session, Pageview, Event, Attribution, CollectBatch, RollupDirtyDay):
        assert not model.objects.filter(environment_id=environment_id).exists(), model.__name__
    assert Pageview.objects.filter(visitor=kept).count() == 2
