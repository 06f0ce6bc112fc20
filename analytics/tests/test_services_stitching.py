"""Stitching: linking visitors to users and giving them their history (SPEC 5, Stitching)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from analytics import tasks
from analytics.models import Attribution, Event, Pageview, Session, Visitor
from analytics.selectors import user_first_touch, user_signup_touch
from analytics.services import stitching
from analytics.services.stitching import LinkOutcome, visitor_link, visitor_stitch, visitors_pending_stitch
from analytics.tests.factories import (
    AttributionFactory,
    EndUserFactory,
    EventFactory,
    PageviewFactory,
    SessionFactory,
    VisitorFactory,
)

VISITOR_ID = "vis_StitchVisitor0000000001"


@pytest.fixture
def environment(tenant):
    return tenant.environment


@pytest.fixture
def user(environment):
    return EndUserFactory(environment=environment, email="ada@example.com")


@pytest.fixture
def other_user(environment):
    return EndUserFactory(environment=environment, email="grace@example.com")


def an_anonymous_history(environment, public_id=VISITOR_ID, *, days_ago=3, pageviews=3, **session_fields):
    """A visitor with one session of `pageviews` pageviews and one event, all without a user."""
    start = timezone.now() - timedelta(days=days_ago)
    visitor = VisitorFactory(environment=environment, public_id=public_id, first_seen_at=start)
    session = SessionFactory(
        visitor=visitor, started_at=start, last_activity_at=start + timedelta(minutes=5), **session_fields
    )
    for minute in range(pageviews):
        PageviewFactory(session=session, timestamp=start + timedelta(minutes=minute))
    EventFactory(session=session, timestamp=start + timedelta(minutes=1))
    return visitor


def link(environment, user, public_id=VISITOR_ID, **kwargs):
    with transaction.atomic():
        return visitor_link(environment=environment, user=user, visitor_public_id=public_id, **kwargs)


def rows_of(visitor):
    return {
        "sessions": set(Session.objects.filter(visitor=visitor).values_list("user_id", flat=True)),
        "pageviews": set(Pageview.objects.filter(visitor=visitor).values_list("user_id", flat=True)),
        "events": set(Event.objects.filter(visitor=visitor).values_list("user_id", flat=True)),
    }


class TestVisitorLink:
    def test_it_links_an_anonymous_visitor_and_rewrites_its_history_after_commit(
        self, environment, user, django_capture_on_commit_callbacks
    ):
        visitor = an_anonymous_history(environment)

        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = link(environment, user)
        # Linked in the caller's transaction, rewritten only once it commits.
        assert result.outcome is LinkOutcome.LINKED and result.linked
        visitor.refresh_from_db()
        assert visitor.user_id == user.id and visitor.linked_at is not None and visitor.stitched_at is None
        assert rows_of(visitor)["pageviews"] == {None}

        for callback in callbacks:
            callback()
        visitor.refresh_from_db()
        assert rows_of(visitor) == {"sessions": {user.id}, "pageviews": {user.id}, "events": {user.id}}
        assert visitor.stitched_at is not None

    def test_it_queues_the_task_with_the_visitor_id_only(
        self, environment, user, django_capture_on_commit_callbacks, monkeypatch
    ):
        sent = []
        monkeypatch.setattr(tasks.stitch_visitor, "apply_async", lambda **options: sent.append(options))
        visitor = an_anonymous_history(environment)
        with django_capture_on_commit_callbacks(execute=True):
            link(environment, user)
        assert sent == [{"args": (visitor.id,)}]

    def test_a_rolled_back_link_queues_nothing(self, environment, user, django_capture_on_commit_callbacks):
        an_anonymous_history(environment)
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            visitor_link(environment=environment, user=user, visitor_public_id=VISITOR_ID)
            raise RuntimeError("the signup failed after linking")
        assert callbacks == []
        assert Visitor.objects.get(public_id=VISITOR_ID).user_id is None

    def test_it_creates_a_visitor_it_has_not_seen(self, environment, user, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            result = link(environment, user, "vis_NeverSeenBefore000000")
        visitor = Visitor.objects.get(environment=environment, public_id="vis_NeverSeenBefore000000")
        assert result.outcome is LinkOutcome.LINKED and visitor.user_id == user.id
        assert visitor.stitched_at is not None

    def test_linking_again_to_the_same_user_changes_nothing(
        self, environment, user, django_capture_on_commit_callbacks
    ):
        an_anonymous_history(environment)
        with django_capture_on_commit_callbacks(execute=True):
            link(environment, user)
        first = Visitor.objects.get(public_id=VISITOR_ID)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            result = link(environment, user)
        again = Visitor.objects.get(public_id=VISITOR_ID)
        assert result.outcome is LinkOutcome.ALREADY_LINKED and result.linked
        assert (again.linked_at, again.stitched_at) == (first.linked_at, first.stitched_at)
        assert callbacks == []
        user.refresh_from_db()
        assert user.link_conflicts == 0

    def test_a_visitor_of_another_user_is_not_moved_and_the_conflict_is_counted(
        self, environment, user, other_user, django_capture_on_commit_callbacks
    ):
        visitor = an_anonymous_history(environment)
        with django_capture_on_commit_callbacks(execute=True):
            link(environment, user)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            first = link(environment, other_user)
            second = link(environment, other_user)
        assert first.outcome is second.outcome is LinkOutcome.CONFLICT
        assert not first.linked
        assert callbacks == []
        visitor.refresh_from_db()
        assert visitor.user_id == user.id
        assert rows_of(visitor)["pageviews"] == {user.id}
        other_user.refresh_from_db()
        user.refresh_from_db()
        assert (other_user.link_conflicts, user.link_conflicts) == (2, 0)

    def test_the_conflict_count_survives_a_stale_user_object(self, environment, user, other_user):
        an_anonymous_history(environment)
        link(environment, user)
        stale = type(other_user).objects.get(pk=other_user.pk)
        link(environment, other_user)
        link(environment, stale)  # an F() update, not a save of the stale count
        other_user.refresh_from_db()
        assert other_user.link_conflicts == 2

    @pytest.mark.parametrize("bad_id", ["", "vis_short", "usr_AAAAAAAAAAAAAAAAAAAA", None, "vis_" + "a" * 65])
    def test_it_ignores_what_is_not_a_visitor_id(self, environment, user, bad_id):
        result = link(environment, user, bad_id)
        assert result.outcome is LinkOutcome.IGNORED and result.visitor is None
        assert not Visitor.objects.exists()

    def test_it_refuses_a_user_of_another_environment(self, environment, other_tenant):
        stranger = EndUserFactory(environment=other_tenant.environment)
        with pytest.raises(ValueError):
            link(environment, stranger)

    def test_the_same_visitor_id_in_two_environments_is_two_visitors(
        self, environment, user, other_tenant, django_capture_on_commit_callbacks
    ):
        theirs = an_anonymous_history(other_tenant.environment)
        with django_capture_on_commit_callbacks(execute=True):
            link(environment, user)
        theirs.refresh_from_db()
        assert theirs.user_id is None
        assert rows_of(theirs)["pageviews"] == {None}
        assert Visitor.objects.filter(public_id=VISITOR_ID).count() == 2


class TestVisitorStitch:
    @pytest.mark.parametrize("batch_size, pageview_updates", [(3, 4), (5, 2), (10, 1)])
    def test_it_rewrites_in_batches(self, environment, user, monkeypatch, batch_size, pageview_updates):
        monkeypatch.setattr(stitching, "STITCH_BATCH_SIZE", batch_size)
        visitor = an_anonymous_history(environment, pageviews=10)
        link(environment, user)
        statements = []
        with connection.execute_wrapper(lambda execute, sql, *args: statements.append(sql) or execute(sql, *args)):
            result = visitor_stitch(visitor_id=visitor.id)

        assert (result.sessions, result.pageviews, result.events) == (1, 10, 1)
        assert rows_of(visitor)["pageviews"] == {user.id}
        # 10 pageviews in batches of `batch_size`: one UPDATE per batch, no more, no fewer.
        assert len([sql for sql in statements if sql.startswith('UPDATE "analytics_pageview"')]) == pageview_updates

    def test_each_batch_is_its_own_statement(self, environment, user, monkeypatch):
        monkeypatch.setattr(stitching, "STITCH_BATCH_SIZE", 4)
        visitor = an_anonymous_history(environment, pageviews=12)
        link(environment, user)
        stitching_queries = []
        with connection.execute_wrapper(
            lambda execute, sql, *args: stitching_queries.append(sql) or execute(sql, *args)
        ):
            visitor_stitch(visitor_id=visitor.id)
        pageview_updates = [sql for sql in stitching_queries if sql.startswith('UPDATE "analytics_pageview"')]
        assert len(pageview_updates) == 3

    def test_it_is_idempotent(self, environment, user):
        visitor = an_anonymous_history(environment)
        AttributionFactory(visitor=visitor, channel="Organic Search", source="Google")
        link(environment, user, signup=True)

        first = visitor_stitch(visitor_id=visitor.id)
        second = visitor_stitch(visitor_id=visitor.id)

        assert first.pageviews == 3 and second.pageviews == 0
        assert (second.first_touch_id, second.signup_touch_id) == (first.first_touch_id, first.signup_touch_id)
        assert Attribution.objects.filter(kind=Attribution.Kind.SIGNUP_TOUCH).count() == 1

    def test_it_leaves_rows_that_already_have_a_user(self, environment, user, other_user):
        visitor = an_anonymous_history(environment)
        pageview = Pageview.objects.filter(visitor=visitor).first()
        Pageview.objects.filter(pk=pageview.pk).update(user=other_user)
        link(environment, user)

        visitor_stitch(visitor_id=visitor.id)

        pageview.refresh_from_db()
        assert pageview.user_id == other_user.id

    def test_an_unlinked_or_erased_visitor_stitches_nothing(self, environment):
        visitor = an_anonymous_history(environment)
        assert visitor_stitch(visitor_id=visitor.id) == stitching.StitchResult()
        assert visitor_stitch(visitor_id=10**9) == stitching.StitchResult()
        assert rows_of(visitor)["pageviews"] == {None}

    @pytest.mark.parametrize("link_order", [("phone", "laptop"), ("laptop", "phone")])
    def test_the_first_touch_is_the_earliest_of_all_the_users_visitors(self, environment, user, link_order):
        now = timezone.now()
        visitors = {
            "laptop": VisitorFactory(environment=environment, public_id="vis_Laptop00000000000000"),
            "phone": VisitorFactory(environment=environment, public_id="vis_Phone000000000000000"),
        }
        AttributionFactory(visitor=visitors["laptop"], source="Google", at=now - timedelta(days=2))
        earliest = AttributionFactory(visitor=visitors["phone"], source="twitter", at=now - timedelta(days=5))

        for name in link_order:
            link(environment, user, visitors[name].public_id)
            visitor_stitch(visitor_id=visitors[name].id)

        user.refresh_from_db()
        assert user_first_touch(user=user).id == earliest.id

    def test_the_first_touch_also_carries_the_user(self, environment, user):
        visitor = an_anonymous_history(environment)
        touch = AttributionFactory(visitor=visitor)
        link(environment, user)
        visitor_stitch(visitor_id=visitor.id)
        touch.refresh_from_db()
        assert touch.user_id == user.id

    def test_a_user_whose_visitors_have_no_first_touch_has_none(self, environment, user):
        visitor = VisitorFactory(environment=environment, public_id=VISITOR_ID)
        link(environment, user)
        visitor_stitch(visitor_id=visitor.id)
        user.refresh_from_db()
        assert user_first_touch(user=user) is None and user_signup_touch(user=user) is None

    def test_the_signup_touch_is_the_session_the_user_signed_up_in(self, environment):
        now = timezone.now()
        visitor = VisitorFactory(environment=environment, public_id=VISITOR_ID)
        SessionFactory(visitor=visitor, started_at=now - timedelta(days=3), channel="Direct")
        signup_session = SessionFactory(
            visitor=visitor,
            started_at=now - timedelta(minutes=10),
            last_activity_at=now - timedelta(minutes=1),
            channel="Organic Search",
            source="Google",
            medium="organic",
            utm_campaign="spring",
            utm_term="auth",
            utm_content="hero",
            referrer_host="www.google.com",
            referrer_path="/",
            entry_path="/docs",
        )
        user = EndUserFactory(environment=environment, created_at=now)
        SessionFactory(visitor=visitor, started_at=now + timedelta(hours=2), channel="Email")  # after signup

        link(environment, user, signup=True)
        visitor_stitch(visitor_id=visitor.id)

        user.refresh_from_db()
        touch = user_signup_touch(user=user)
        assert touch.session_id == signup_session.id
        assert (touch.channel, touch.source, touch.medium) == ("Organic Search", "Google", "organic")
        assert (touch.campaign, touch.term, touch.content) == ("spring", "auth", "hero")
        assert (touch.referrer, touch.referring_domain) == ("www.google.com/", "google.com")
        assert (touch.landing_page, touch.at) == ("/docs", signup_session.started_at)
        assert (touch.kind, touch.user_id, touch.visitor_id) == (Attribution.Kind.SIGNUP_TOUCH, user.id, visitor.id)

    def test_without_a_session_before_signup_the_latest_session_is_the_signup_touch(self, environment):
        now = timezone.now()
        visitor = VisitorFactory(environment=environment, public_id=VISITOR_ID)
        user = EndUserFactory(environment=environment, created_at=now)
        # The signup request's clock ran a little ahead of the pageviews' corrected times.
        later = SessionFactory(visitor=visitor, started_at=now + timedelta(seconds=5), channel="Referral")
        link(environment, user, signup=True)
        visitor_stitch(visitor_id=visitor.id)
        user.refresh_from_db()
        assert user_signup_touch(user=user).session_id == later.id

    def test_a_signup_touch_appears_once_its_session_arrives(self, environment, django_capture_on_commit_callbacks):
        user = EndUserFactory(environment=environment)
        with django_capture_on_commit_callbacks(execute=True):
            link(environment, user, signup=True)
        user.refresh_from_db()
        assert user_signup_touch(user=user) is None  # the browser has not delivered the signup page yet

        visitor = Visitor.objects.get(public_id=VISITOR_ID)
        session = SessionFactory(visitor=visitor, started_at=user.created_at - timedelta(minutes=2), source="Google")
        visitor_stitch(visitor_id=visitor.id)
        user.refresh_from_db()
        touch = user_signup_touch(user=user)
        assert touch.session_id == session.id and touch.source == "Google"

    def test_a_signup_on_another_users_visitor_records_no_signup_touch(self, environment, user, other_user):
        visitor = an_anonymous_history(environment)
        link(environment, user)
        assert link(environment, other_user, signup=True).outcome is LinkOutcome.CONFLICT
        visitor_stitch(visitor_id=visitor.id)
        assert not Attribution.objects.filter(user=other_user).exists()


class TestRestitch:
    def test_traffic_arriving_after_the_link_updates_the_users_touches(
        self, environment, django_capture_on_commit_callbacks
    ):
        user = EndUserFactory(environment=environment)
        with django_capture_on_commit_callbacks(execute=True):
            link(environment, user, signup=True)
        user.refresh_from_db()
        assert (user_first_touch(user=user), user_signup_touch(user=user)) == (None, None)

        # The browser delivers the pages it viewed before signing up only now.
        visitor = Visitor.objects.get(public_id=VISITOR_ID)
        SessionFactory(visitor=visitor, user=user, started_at=user.created_at - timedelta(minutes=3), source="Google")
        touch = AttributionFactory(visitor=visitor, source="Google", at=user.created_at - timedelta(minutes=3))
        with django_capture_on_commit_callbacks(execute=True):
            stitching.visitor_restitch_on_commit(visitor=visitor)

        user.refresh_from_db()
        assert user_first_touch(user=user).id == touch.id and user_signup_touch(user=user).source == "Google"

    def test_an_anonymous_visitor_needs_no_restitch(self, environment, django_capture_on_commit_callbacks):
        visitor = an_anonymous_history(environment)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            stitching.visitor_restitch_on_commit(visitor=visitor)
        assert callbacks == []


class TestPendingSweep:
    def test_it_requeues_links_whose_rewrite_never_ran(self, environment, user):
        visitor = an_anonymous_history(environment)
        link(environment, user)  # no commit in this test: the task never ran
        Visitor.objects.filter(pk=visitor.pk).update(linked_at=timezone.now() - timedelta(minutes=5))
        fresh = an_anonymous_history(environment, "vis_JustLinked0000000000")
        link(environment, user, fresh.public_id)

        assert visitors_pending_stitch() == [visitor.id]
        assert tasks.stitch_pending_visitors.delay().get() == 1

        visitor.refresh_from_db()
        assert visitor.stitched_at is not None and rows_of(visitor)["pageviews"] == {user.id}
        assert visitors_pending_stitch() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestConcurrency:
    @pytest.fixture(autouse=True)
    def _runner(self, run_together):
        self.run_together = run_together

    def test_two_users_linking_one_new_visitor_at_once_serialize(self, tenant):
        environment = tenant.environment
        ada = EndUserFactory(environment=environment)
        grace = EndUserFactory(environment=environment)

        outcomes = self.run_together(lambda: link(environment, ada).outcome, lambda: link(environment, grace).outcome)

        assert sorted(outcome.value for outcome in outcomes) == ["conflict", "linked"]
        visitor = Visitor.objects.get(public_id=VISITOR_ID)
        loser = grace if visitor.user_id == ada.id else ada
        loser.refresh_from_db()
        assert loser.link_conflicts == 1

    def test_two_stitches_of_one_visitor_at_once_agree(self, tenant, monkeypatch):
        environment = tenant.environment
        user = EndUserFactory(environment=environment)
        visitor = an_anonymous_history(environment, pageviews=50)
        AttributionFactory(visitor=visitor)
        # The link commits here; its own queued task must not run before the two below.
        monkeypatch.setattr(tasks.stitch_visitor, "apply_async", lambda *args, **kwargs: None)
        link(environment, user, signup=True)

        results = self.run_together(
            lambda: visitor_stitch(visitor_id=visitor.id), lambda: visitor_stitch(visitor_id=visitor.id)
        )

        assert sum(result.pageviews for result in results) == 50
        assert rows_of(visitor)["pageviews"] == {user.id}
        user.refresh_from_db()
        assert user_first_touch(user=user) is not None and user_signup_touch(user=user) is not None
        assert Attribution.objects.filter(kind=Attribution.Kind.SIGNUP_TOUCH).count() == 1


class TestVisitorsStitch:
    def test_many_visitors_end_as_one_by_one_stitching_leaves_them(self, environment, user, other_user):
        together = [an_anonymous_history(environment, f"vis_StitchTogether{n:010d}") for n in range(2)]
        alone = [an_anonymous_history(environment, f"vis_StitchAlone0000{n:010d}") for n in range(2)]
        anonymous = an_anonymous_history(environment, "vis_StitchAnonymous00000001")
        for visitors in (together, alone):
            link(environment, user, visitors[0].public_id, signup=visitors is together)
            link(environment, other_user, visitors[1].public_id, signup=visitors is together)
        for visitor in together:
            AttributionFactory(environment=environment, visitor=visitor, kind=Attribution.Kind.FIRST_TOUCH)

        assert stitching.visitors_stitch(visitor_ids=[visitor.pk for visitor in [*together, anonymous]]) == 2
        for visitor in alone:
            visitor_stitch(visitor_id=visitor.pk)

        for visitor, owner in [
            (together[0], user),
            (together[1], other_user),
            (alone[0], user),
            (alone[1], other_user),
        ]:
            visitor.refresh_from_db()
            assert rows_of(visitor) == {"sessions": {owner.id}, "pageviews": {owner.id}, "events": {owner.id}}
            assert visitor.stitched_at is not None
        assert rows_of(anonymous)["pageviews"] == {None}
        assert set(
            Attribution.objects.filter(visitor__in=together, kind=Attribution.Kind.FIRST_TOUCH).values_list("user_id")
        ) == {(user.id,), (other_user.id,)}
        assert user_signup_touch(user=user).session.visitor_id == together[0].pk
        assert user_first_touch(user=other_user).visitor_id == together[1].pk
