"""Browser traffic: validating a collect batch and storing it (SPEC 4.1 and 5).

One batch is one short transaction. It locks the visitor's row first, so that two
batches of the same visitor (two gunicorn workers, a retry racing its original)
are sessionised one after the other and a duplicate `messageId` is seen by the
second. The unique constraints on (environment, message_id) stay the backstop.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from ascendkit_site import ids
from identity.models import Environment

from ..cleaning import clean_text, is_client_event_name
from ..enrichment.sources import PageUrl, traffic_from
from ..items import URL_MAX, ItemRejected, item_page, item_properties, item_time, parse_client_time
from ..models import Attribution, BotHit, Event, Pageview, Session, Visitor
from .events import outbox_add
from .sessions import Client, PageVisit, SessionBook
from .stitching import attribution_fill_from_session, visitor_restitch_on_commit
from .visitors import visitor_get_for_update

EVENT_NAME_MAX = 200
TITLE_MAX = 512


@dataclass(frozen=True)
class BrowserItem:
    index: int
    message_id: str
    at: datetime
    page: PageUrl | None  # the page it happened on; required for pageviews
    referrer: str = ""
    title: str = ""
    name: str = ""  # set for track items only
    properties: dict = field(default_factory=dict)

    @property
    def is_pageview(self) -> bool:
        return not self.name


@dataclass
class ParsedBatch:
    items: list[BrowserItem]
    rejected: list[dict]


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int


def browser_items_parse(raw_items: list, *, sent_at, received_at: datetime) -> ParsedBatch:
    """Judge each item on its own: good ones become BrowserItems, bad ones `rejected`."""
    sent = parse_client_time(sent_at)
    batch = ParsedBatch(items=[], rejected=[])
    for index, raw in enumerate(raw_items):
        try:
            batch.items.append(_parse_item(index, raw, sent_at=sent, received_at=received_at))
        except ItemRejected as rejection:
            batch.rejected.append({"index": index, "reason": rejection.reason})
    return batch


def _parse_item(index: int, raw, *, sent_at: datetime | None, received_at: datetime) -> BrowserItem:
    if not isinstance(raw, dict):
        raise ItemRejected("invalid_item")
    kind = raw.get("type")
    if kind not in ("pageview", "track"):
        raise ItemRejected("invalid_type")
    message_id = raw.get("messageId")
    if message_id is None:
        message_id = ids.mint("msg")  # no client ID: stored without dedupe
    elif not ids.is_message_id(message_id):
        raise ItemRejected("invalid_message_id")
    at = item_time(
        timestamp=raw.get("timestamp"), sent_at=sent_at, received_at=received_at, max_age=settings.BROWSER_MAX_AGE
    )
    page = item_page(raw.get("url"))
    if kind == "pageview":
        if page is None:
            raise ItemRejected("invalid_url")
        return BrowserItem(
            index=index,
            message_id=message_id,
            at=at,
            page=page,
            referrer=clean_text(raw.get("referrer"), URL_MAX),
            title=clean_text(raw.get("title"), TITLE_MAX),
        )
    return BrowserItem(
        index=index,
        message_id=message_id,
        at=at,
        page=page,
        name=_event_name(raw.get("name")),
        properties=item_properties(raw.get("properties")),
    )


def _event_name(name) -> str:
    if not is_client_event_name(name):
        raise ItemRejected("invalid_name")
    return name


def browser_items_record(
    *, environment: Environment, visitor_public_id: str, items: list[BrowserItem], client: Client
) -> RecordResult:
    """Store a batch's valid items for one visitor, sessionised, in one transaction."""
    if not items:
        return RecordResult(accepted=0, duplicates=0)
    items = sorted(items, key=lambda item: item.at)
    with transaction.atomic():
        visitor = visitor_get_for_update(
            environment=environment, public_id=visitor_public_id, first_at=items[0].at, last_at=items[-1].at
        )
        fresh = _without_duplicates(environment, items)
        if fresh:
            _store(environment, visitor, fresh, client)
    return RecordResult(accepted=len(fresh), duplicates=len(items) - len(fresh))


def _without_duplicates(environment: Environment, items: list[BrowserItem]) -> list[BrowserItem]:
    message_ids = [item.message_id for item in items]
    stored = set(
        Pageview.objects.filter(environment=environment, message_id__in=message_ids)
        .values_list("message_id", flat=True)
        .union(Event.objects.filter(environment=environment, message_id__in=message_ids).values_list("message_id"))
    )
    fresh = []
    for item in items:
        if item.message_id not in stored:
            stored.add(item.message_id)  # a repeat within the batch is a duplicate too
            fresh.append(item)
    return fresh


def _store(environment: Environment, visitor: Visitor, items: list[BrowserItem], client: Client) -> None:
    book = SessionBook(
        visitor=visitor,
        timeout=timedelta(minutes=environment.session_timeout_minutes),
        first_at=items[0].at,
        last_at=items[-1].at,
        client=client,
    )
    placed = []
    for item in items:
        if item.is_pageview:
            visit = PageVisit(at=item.at, page=item.page, traffic=traffic_from(item.page, item.referrer or None))
            placed.append((item, book.add_pageview(visit), visit))
        else:
            placed.append((item, book.add_event(item.at), None))
    book.save()

    pageviews = [_pageview(visitor, item, book.resolve(session), visit) for item, session, visit in placed if visit]
    events = [_event(visitor, item, book.resolve(session)) for item, session, visit in placed if not visit]
    # Duplicates were removed under the visitor's lock; ignoring conflicts covers the
    # same messageId sent at once under two different visitor IDs.
    Pageview.objects.bulk_create(pageviews, ignore_conflicts=True)
    Event.objects.bulk_create(events, ignore_conflicts=True)
    if visitor.user_id and events:
        # The visitor already belongs to a user: these are the user's events, and
        # journeys and webhooks get them. Anonymous events are never replayed.
        stored = Event.objects.filter(environment=environment, public_id__in=[event.public_id for event in events])
        outbox_add(events=list(stored))
    _update_first_touch(visitor, book)
    if _arrived_after_its_link(visitor, book):
        # Pages from before signup delivered after it (the SDK batches): the user's
        # first and signup touches must be worked out again.
        visitor_restitch_on_commit(visitor=visitor)


def _arrived_after_its_link(visitor: Visitor, book: SessionBook) -> bool:
    if visitor.user_id is None or visitor.linked_at is None:
        return False
    return any(book.resolve(session).started_at <= visitor.linked_at for session, _ in book.entries)


def _pageview(visitor: Visitor, item: BrowserItem, session: Session, visit: PageVisit) -> Pageview:
    page, traffic = item.page, visit.traffic
    return Pageview(
        environment_id=visitor.environment_id,
        session=session,
        visitor=visitor,
        user_id=visitor.user_id,
        message_id=item.message_id,
        timestamp=item.at,
        hostname=page.hostname,
        path=page.path,
        title=item.title,
        referrer_host=traffic.referrer_host,
        referrer_path=traffic.referrer_path,
        utm_source=page.utm_source,
        utm_medium=page.utm_medium,
        utm_campaign=page.utm_campaign,
        utm_term=page.utm_term,
        utm_content=page.utm_content,
        # The session's source, device and place, so breakdowns need no join.
        source=session.source,
        channel=session.channel,
        browser=session.browser,
        os=session.os,
        device_type=session.device_type,
        country=session.country,
        region=session.region,
        city=session.city,
    )


def _event(visitor: Visitor, item: BrowserItem, session: Session) -> Event:
    return Event(
        environment_id=visitor.environment_id,
        public_id=ids.mint("evt"),
        session=session,
        visitor=visitor,
        user_id=visitor.user_id,
        kind=Event.Kind.BROWSER,
        name=item.name,
        properties=item.properties,
        message_id=item.message_id,
        timestamp=item.at,
        hostname=item.page.hostname if item.page else "",
        path=item.page.path if item.page else "",
    )


def _update_first_touch(visitor: Visitor, book: SessionBook) -> None:
    """Keep the visitor's first touch: the source of its earliest session with a pageview."""
    if not book.entries:
        return
    session, visit = min(book.entries, key=lambda entry: entry[1].at)
    session = book.resolve(session)
    current = Attribution.objects.filter(visitor=visitor, kind=Attribution.Kind.FIRST_TOUCH).first()
    if current is not None and current.at <= visit.at:
        return
    touch = current or Attribution(environment_id=visitor.environment_id, visitor=visitor)
    touch.kind = Attribution.Kind.FIRST_TOUCH
    attribution_fill_from_session(touch, session)
    touch.save()


def bot_hits_count(*, environment: Environment, count: int, day) -> None:
    """Count items dropped as bot traffic: the only trace bots leave."""
    updated = BotHit.objects.filter(environment=environment, day=day).update(count=F("count") + count)
    if updated:
        return
    try:
        with transaction.atomic():
            BotHit.objects.create(environment=environment, day=day, count=count)
    except IntegrityError:  # created concurrently
        BotHit.objects.filter(environment=environment, day=day).update(count=F("count") + count)
