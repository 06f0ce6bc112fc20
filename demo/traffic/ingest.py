"""The only place demo traffic touches ingestion: the same services real traffic goes through.

Browser items go through the collect writer, many batches per transaction (the
queued mode's set-based path); signups through the end-user signup service;
business events through the events service; stitching through its service.
Keeping these calls here means a move of any of them changes this file alone.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Case, DateTimeField, Value, When
from django.test import override_settings

from accounts.services import user_signup
from analytics.enrichment.geo import Place
from analytics.enrichment.sources import parse_page_url, traffic_from
from analytics.enrichment.useragent import device_from_user_agent
from analytics.items import BrowserBatch, BrowserItem, Client
from analytics.models import Attribution, Event, Visitor
from analytics.services.business_events import business_events_record
from analytics.services.collect_writer import browser_batches_write
from analytics.services.outbox import outbox_dispatch_pending, outbox_settle_undispatched
from analytics.services.stitching import STITCH_TASK, visitors_stitch
from ascendkit_site.errors import ApplicationError
from ascendkit_site.queue import enqueue_now, registered_task, tasks_held
from identity.models import EndUser, Environment

from .model import PlannedVisitor

OUTBOX_TASK = "analytics.tasks.outbox_dispatch"

# Demo users get random passwords nobody is told and are then made unable to log
# in, so a slow hash would protect nothing and cost ~0.3 s a signup.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def browser_traffic_write(*, environment: Environment, visitors: list[PlannedVisitor], seed: int) -> None:
    """Write the visitors' pageviews and browser events, one batch per session, in one transaction."""
    batches = []
    for visitor in visitors:
        country, region, city = visitor.place
        client = Client(
            device=device_from_user_agent(visitor.user_agent),
            place=Place(country=country, region=region, city=city),
            screen_width=visitor.screen[0],
            screen_height=visitor.screen[1],
            locale=visitor.locale,
            time_zone=visitor.time_zone,
        )
        for number, session in enumerate(visitor.sessions):
            items = [
                _browser_item(item, index, f"g{seed}v{visitor.index}s{number}i{index}")
                for index, item in enumerate(session)
            ]
            batches.append(
                BrowserBatch(environment=environment, visitor_public_id=visitor.public_id, items=items, client=client)
            )
    browser_batches_write(batches=batches)


def _browser_item(item, index: int, message_id: str) -> BrowserItem:
    page = parse_page_url(item.url)
    return BrowserItem(
        index=index,
        message_id=message_id,
        at=item.at,
        page=page,
        # Enriched as collect enriches a pageview: its source and channel.
        traffic=None if item.name else traffic_from(page, item.referrer or None),
        referrer=item.referrer or "",
        title=item.title,
        name=item.name,
        properties=item.properties,
    )


@dataclass
class Chunk:
    """What one chunk of generated traffic leaves to do once it is written."""

    environment: Environment
    dispatch: bool
    stitch_visitor_ids: set[int] = field(default_factory=set)
    user_ids: list[int] = field(default_factory=list)


@contextmanager
def chunk_written(*, environment: Environment, dispatch: bool) -> Iterator[Chunk]:
    """Write a chunk's traffic with the on-commit tasks held, then do their work once.

    Real traffic queues a stitch per signup and an outbox dispatch per commit; a
    chunk of thousands of visitors does that work once, after its writes: each
    signed-up visitor is stitched once, all in a few statements (the task's service, set-based), and the
    outbox is dispatched once (`dispatch`) or, by default, its entries of the new
    users are settled undispatched: generated history is backdated, and journeys
    and webhooks act on the present. Any other held task is queued as usual.
    """
    chunk = Chunk(environment=environment, dispatch=dispatch)
    with tasks_held() as held:
        yield chunk
    outbox = False
    for name, args in held:
        if name == STITCH_TASK:
            chunk.stitch_visitor_ids.add(args[0])
        elif name == OUTBOX_TASK:
            outbox = True
        else:
            enqueue_now(registered_task(name), *args)
    visitors_stitch(visitor_ids=sorted(chunk.stitch_visitor_ids))
    if not chunk.dispatch:
        outbox_settle_undispatched(environment_id=environment.pk, user_ids=chunk.user_ids)
    elif outbox or chunk.user_ids:
        while outbox_dispatch_pending():
            pass


def signups_record(*, chunk: Chunk, visitors: list[PlannedVisitor]) -> list[tuple]:
    """Sign the visitors up as the signup endpoint does, at their planned times.

    Answers (visitor, user) pairs; a visitor whose email is taken (a second run
    with the same seed) is skipped. The signup service stamps the present; demo
    history is in the past, so each user's creation, built-in events and signup
    marker are moved to the planned moment in the same transaction, before the
    stitch (after the chunk) reads them. One transaction for the lot, and one
    statement per table for the moves.
    """
    environment = chunk.environment
    signed_up = []
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS), transaction.atomic():
        for visitor in visitors:
            user = _signup(environment, visitor)
            if user is not None:
                signed_up.append((visitor, user))
        _backdate_signups(environment, [(user, visitor.signup.at) for visitor, user in signed_up])
    # Also those whose queued stitch never reaches the chunk (inside a caller's transaction, a test's).
    chunk.stitch_visitor_ids.update(
        Visitor.objects.filter(
            environment=environment, public_id__in=[visitor.public_id for visitor, _ in signed_up]
        ).values_list("pk", flat=True)
    )
    chunk.user_ids += [user.pk for _, user in signed_up]
    return signed_up


def _signup(environment: Environment, visitor: PlannedVisitor) -> EndUser | None:
    signup = visitor.signup
    try:
        with transaction.atomic():
            user, _ = user_signup(
                environment=environment,
                email=signup.email,
                password=secrets.token_urlsafe(18),
                name=signup.name,
                visitor_id=visitor.public_id,
            )
    except ApplicationError as error:
        if error.code == "email_taken":
            return None
        raise
    return user


def _backdate_signups(environment: Environment, moves: list[tuple[EndUser, datetime]]) -> None:
    if not moves:
        return
    for user, at in moves:
        user.created_at, user.password = at, make_password(None)
    EndUser.objects.bulk_update([user for user, _ in moves], ["created_at", "password"])
    ids = [user.pk for user, _ in moves]
    planned = Case(*[When(user_id=user.pk, then=Value(at)) for user, at in moves], output_field=DateTimeField())
    Event.objects.filter(environment=environment, user_id__in=ids, name__startswith="user.").update(timestamp=planned)
    Attribution.objects.filter(user_id__in=ids, kind=Attribution.Kind.SIGNUP_TOUCH).update(at=planned)


def business_events_write(*, environment: Environment, events: list[dict], received_at: datetime) -> int:
    """Server events of users, as `POST /v1/events` with the secret key stores them."""
    stored = 0
    for start in range(0, len(events), 100):  # the endpoint's batch limit
        with transaction.atomic():
            result = business_events_record(
                environment=environment,
                token_user=None,
                raw_items=events[start : start + 100],
                sent_at=None,
                received_at=received_at,
            )
        stored += result.accepted
    return stored
