"""factory_boy factories for tenancy, end users and analytics rows.

Related rows follow their parent: a session takes its visitor's environment and
user, a pageview its session's visitor, environment and user. So
`PageviewFactory(session=s)` or `PageviewFactory(session__visitor=v)` makes a
consistent row, and `EventFactory(session=None, visitor=None, user=u)` makes a
server-side event of a user. Times default to the parent's (a session starts at
its visitor's last sighting), so one old `last_seen_at` makes a whole old history.
"""

from datetime import timedelta

import factory
from django.utils import timezone

from analytics.models import Attribution, Event, Pageview, Session, Visitor
from identity.models import EndUser, Environment, Organization, Project, UserToken, hash_secret


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"organization-{n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")


class EnvironmentFactory(factory.django.DjangoModelFactory):
    """An environment with a secret key nobody knows; use `environment_create` to get one."""

    class Meta:
        model = Environment

    project = factory.SubFactory(ProjectFactory)
    name = "production"
    slug = factory.Sequence(lambda n: f"production-{n}")
    secret_key_hash = factory.Sequence(lambda n: hash_secret(f"sk_factory{n}"))


class EndUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EndUser

    environment = factory.SubFactory(EnvironmentFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    # Not a usable hash: tests that log in set a password with `set_password`.
    password = "!"


class UserTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserToken

    user = factory.SubFactory(EndUserFactory)
    environment = factory.SelfAttribute("user.environment")
    token_hash = factory.Sequence(lambda n: hash_secret(f"ust_factory{n}"))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class VisitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visitor

    environment = factory.SubFactory(EnvironmentFactory)
    user = None
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.SelfAttribute("first_seen_at")


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    visitor = factory.SubFactory(VisitorFactory)
    environment = factory.SelfAttribute("visitor.environment")
    user = factory.SelfAttribute("visitor.user")
    started_at = factory.SelfAttribute("visitor.last_seen_at")
    last_activity_at = factory.SelfAttribute("started_at")
    hostname = "example.com"
    entry_path = "/"
    exit_path = "/"


class PageviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pageview

    session = factory.SubFactory(SessionFactory)
    visitor = factory.SelfAttribute("session.visitor")
    environment = factory.SelfAttribute("session.environment")
    user = factory.SelfAttribute("session.user")
    message_id = factory.Sequence(lambda n: f"pv-factory-{n}")
    timestamp = factory.SelfAttribute("session.last_activity_at")
    hostname = "example.com"
    path = factory.Sequence(lambda n: f"/page-{n}")
    title = "A page"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    session = factory.SubFactory(SessionFactory)
    visitor = factory.LazyAttribute(lambda o: o.session.visitor if o.session else None)
    user = factory.LazyAttribute(lambda o: o.session.user if o.session else (o.visitor.user if o.visitor else None))
    environment = factory.LazyAttribute(lambda o: (o.session or o.visitor or o.user).environment)
    kind = Event.Kind.BROWSER
    name = "app.clicked"
    properties = factory.LazyFunction(dict)
    message_id = factory.Sequence(lambda n: f"ev-factory-{n}")
    timestamp = factory.LazyAttribute(lambda o: o.session.last_activity_at if o.session else timezone.now())


class AttributionFactory(factory.django.DjangoModelFactory):
    """A visitor's first touch by default; pass `kind=SIGNUP_TOUCH, visitor=None, user=u` for a signup touch."""

    class Meta:
        model = Attribution

    kind = Attribution.Kind.FIRST_TOUCH
    visitor = factory.SubFactory(VisitorFactory)
    user = factory.LazyAttribute(lambda o: o.visitor.user if o.visitor else None)
    environment = factory.LazyAttribute(lambda o: (o.visitor or o.user).environment)
    channel = "Direct"
    source = ""
    landing_page = "/"
    at = factory.LazyAttribute(lambda o: o.visitor.first_seen_at if o.visitor else timezone.now())
