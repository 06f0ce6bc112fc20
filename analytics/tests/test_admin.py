"""The admin of collected traffic: view only, delete for superusers, no query per row."""

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.models import Attribution, BotHit, CollectBatch, Event, OutboxEntry, Pageview, Session, Visitor
from identity.models import EndUser

MODELS = ["visitor", "session", "pageview", "event", "attribution", "bothit", "outboxentry", "collectbatch"]


def record_traffic(environment, *, n=1, email="ada@example.com"):
    """A signed-up user's visitor with `n` sessions, each with a pageview, an event and its outbox row."""
    now = timezone.now()
    user = EndUser.objects.create(environment=environment, email=email, password=make_password("pw-for-tests"))
    visitor = Visitor.objects.create(environment=environment, user=user, linked_at=now)
    Attribution.objects.create(
        environment=environment,
        kind=Attribution.Kind.FIRST_TOUCH,
        visitor=visitor,
        channel="Email",
        source="newsletter",
        landing_page="/pricing",
        at=now,
    )
    for i in range(n):
        session = Session.objects.create(
            environment=environment,
            visitor=visitor,
            user=user,
            started_at=now,
            last_activity_at=now,
            channel="Email",
            source="newsletter",
            device_type="desktop",
            country="DE",
            entry_path=f"/pricing/{i}",
        )
        Pageview.objects.create(
            environment=environment,
            session=session,
            visitor=visitor,
            user=user,
            message_id=f"{email}-m{i}",
            timestamp=now,
            path=f"/pricing/{i}",
            title="Pricing",
            channel="Email",
            device_type="desktop",
            country="DE",
        )
        event = Event.objects.create(
            environment=environment,
            session=session,
            visitor=visitor,
            user=user,
            kind=Event.Kind.BROWSER,
            name="app.cta_clicked",
            message_id=f"{email}-e{i}",
            timestamp=now,
            path=f"/pricing/{i}",
        )
        OutboxEntry.objects.create(environment=environment, event=event)
        CollectBatch.objects.create(
            environment=environment, visitor_public_id=visitor.public_id, payload=b'{"client": {}, "items": []}'
        )
    BotHit.objects.get_or_create(environment=environment, day=date.today() - timedelta(days=n), defaults={"count": 3})
    return visitor


@pytest.fixture
def traffic(tenant):
    return record_traffic(tenant.environment)


@pytest.fixture
def staff_client(db):
    """A staff member who may view and delete analytics rows, but is no superuser."""
    user = get_user_model().objects.create_user("staff@example.com", "staff@example.com", "pw-for-tests")
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="analytics", codename__regex=r"^(view|delete|add|change)_")
    )
    client = Client()
    client.force_login(user)
    return client


def url(model, view, *args):
    return reverse(f"admin:analytics_{model}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS)
def test_each_changelist_lists_its_rows(admin_client, traffic, model):
    response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert "acme/web/production" in response.content.decode()


@pytest.mark.parametrize("model", MODELS)
def test_changelists_do_not_query_once_per_row(admin_client, tenant, model, django_assert_max_num_queries):
    record_traffic(tenant.environment, n=1)
    with django_assert_max_num_queries(100) as few_rows:
        admin_client.get(url(model, "changelist"))
    record_traffic(tenant.environment, n=6, email="grace@example.com")

    with django_assert_max_num_queries(len(few_rows)):
        admin_client.get(url(model, "changelist"))


def test_pageviews_are_searchable_by_path_and_visitor(admin_client, tenant, traffic):
    other = record_traffic(tenant.environment, email="grace@example.com")
    Pageview.objects.filter(visitor=other).update(path="/blog/hello")

    by_path = admin_client.get(url("pageview", "changelist"), {"q": "/blog/"})
    by_visitor = admin_client.get(url("pageview", "changelist"), {"q": traffic.public_id})

    assert [pageview.visitor_id for pageview in by_path.context["cl"].result_list] == [other.pk]
    assert [pageview.visitor_id for pageview in by_visitor.context["cl"].result_list] == [traffic.pk]


def test_visitors_are_searchable_by_public_id_and_user_email(admin_client, tenant, traffic):
    record_traffic(tenant.environment, email="grace@example.com")

    by_id = admin_client.get(url("visitor", "changelist"), {"q": traffic.public_id})
    by_email = admin_client.get(url("visitor", "changelist"), {"q": "ada@"})

    assert list(by_id.context["cl"].result_list) == [traffic]
    assert list(by_email.context["cl"].result_list) == [traffic]


def test_sessions_filter_by_environment(admin_client, tenant, other_tenant, traffic):
    record_traffic(other_tenant.environment)

    response = admin_client.get(url("session", "changelist"), {"environment__id__exact": tenant.environment.pk})

    assert {session.environment_id for session in response.context["cl"].result_list} == {tenant.environment.pk}


@pytest.mark.parametrize("model", MODELS)
def test_analytics_rows_cannot_be_added(admin_client, traffic, model):
    assert admin_client.get(url(model, "add")).status_code == 403


@pytest.mark.parametrize(
    "model, get_object",
    [
        ("visitor", lambda: Visitor.objects.first()),
        ("session", lambda: Session.objects.first()),
        ("pageview", lambda: Pageview.objects.first()),
        ("event", lambda: Event.objects.first()),
        ("attribution", lambda: Attribution.objects.first()),
        ("bothit", lambda: BotHit.objects.first()),
        ("outboxentry", lambda: OutboxEntry.objects.first()),
        ("collectbatch", lambda: CollectBatch.objects.first()),
    ],
)
def test_analytics_rows_are_shown_but_cannot_be_changed(admin_client, traffic, model, get_object):
    obj = get_object()

    page = admin_client.get(url(model, "change", obj.pk))
    post = admin_client.post(url(model, "change", obj.pk), {})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403


def test_staff_cannot_delete_analytics_rows_even_with_the_permission(staff_client, traffic):
    assert staff_client.get(url("visitor", "changelist")).status_code == 200
    assert staff_client.get(url("visitor", "add")).status_code == 403
    assert staff_client.post(url("visitor", "delete", traffic.pk), {"post": "yes"}).status_code == 403
    assert Visitor.objects.filter(pk=traffic.pk).exists()


def test_a_superuser_deletes_a_visitor_with_its_traffic(admin_client, traffic):
    response = admin_client.post(url("visitor", "delete", traffic.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Visitor.objects.filter(pk=traffic.pk).exists()
    assert not Pageview.objects.filter(visitor_id=traffic.pk).exists()
    assert not Session.objects.filter(visitor_id=traffic.pk).exists()
