"""The rows a report reads: the period's sessions, their pageviews, events and signups.

Every report is anchored on sessions: a session, and all of its pageviews, counts
in the period (and the chart bucket) in which it started. Filters narrow whole
sessions, so a filter on a session property keeps every pageview of the sessions
that match. A `page` filter keeps the sessions that viewed the page and counts only
the views of that page. An `event` filter keeps the sessions with that event and
counts only that event. Events count by their own time, signups by the user's
creation time; under filters, those of matching sessions (a signup by the session
it happened in: its signup touch).

Every queryset starts with its environment.
"""

from django.db.models import Exists, FilteredRelation, OuterRef, Q, QuerySet

from identity.models import EndUser

from ..models import Attribution, Event, Pageview, Session
from .properties import EVENT, PAGE, SESSION_COLUMNS, stored_value
from .query import StatsQuery

CUSTOM_EVENT_PREFIX = "app."


def session_conditions(query: StatsQuery, prefix: str, *, skip: tuple[str, ...] = ()) -> Q:
    """The filters as conditions on a session reached through `prefix` ("" or "session__")."""
    environment = query.environment
    # The session's key as the outer row holds it: `pk`, `session_id`, `signup_touch__session_id`.
    session_ref = OuterRef(f"{prefix[:-2]}_id" if prefix else "pk")
    condition = Q()
    for item in query.filters:
        if item.property in skip:
            continue
        value = stored_value(item.value)
        if item.property in SESSION_COLUMNS:
            condition &= Q(**{f"{prefix}{SESSION_COLUMNS[item.property]}": value})
        elif item.property == PAGE:
            condition &= Q(Exists(Pageview.objects.filter(environment=environment, session_id=session_ref, path=value)))
        elif item.property == EVENT:
            condition &= Q(Exists(Event.objects.filter(environment=environment, session_id=session_ref, name=value)))
    return condition


def sessions_in(query: StatsQuery, *, skip: tuple[str, ...] = ()) -> QuerySet[Session]:
    """Sessions of the environment started in the period that match the filters."""
    return Session.objects.filter(
        session_conditions(query, "", skip=skip),
        environment=query.environment,
        started_at__gte=query.start,
        started_at__lt=query.end,
    )


def pageviews_in(query: StatsQuery, *, whole_sessions: bool = False) -> QuerySet[Pageview]:
    """Pageviews of the period's matching sessions; with a `page` filter, only of that page.

    `whole_sessions` keeps every pageview of the sessions that viewed the filtered page.
    """
    page = query.filter_value(PAGE)
    only_page = page is not None and not whole_sessions
    pageviews = Pageview.objects.filter(
        session_conditions(query, "session__", skip=(PAGE,) if only_page else ()),
        environment=query.environment,
        session__started_at__gte=query.start,
        session__started_at__lt=query.end,
        # A pageview is never older than its session: this bound lets the time index help.
        timestamp__gte=query.start,
    )
    if only_page:
        pageviews = pageviews.filter(path=stored_value(page))
    return pageviews


def events_in(query: StatsQuery, *, skip: tuple[str, ...] = ()) -> QuerySet[Event]:
    """Custom (`app.*`) events of the period; under filters, of matching sessions."""
    events = Event.objects.filter(
        environment=query.environment,
        name__startswith=CUSTOM_EVENT_PREFIX,
        timestamp__gte=query.start,
        timestamp__lt=query.end,
    )
    if any(item.property not in skip for item in query.filters):
        events = events.filter(session_conditions(query, "session__", skip=(EVENT, *skip)))
    name = query.filter_value(EVENT)
    if name is not None and EVENT not in skip:
        events = events.filter(name=name)
    return events


def signups_in(query: StatsQuery, *, skip: tuple[str, ...] = ()) -> QuerySet[EndUser]:
    """Users created in the period (any status); under filters, by the session they signed up in."""
    users = EndUser.objects.alias(
        # The user's signup touch, as a relation the reports can follow to its session.
        signup_touch=FilteredRelation("attributions", condition=Q(attributions__kind=Attribution.Kind.SIGNUP_TOUCH))
    ).filter(environment=query.environment, created_at__gte=query.start, created_at__lt=query.end)
    if any(item.property not in skip for item in query.filters):
        users = users.filter(session_conditions(query, "signup_touch__session__", skip=skip))
    return users
