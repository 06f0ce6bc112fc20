"""Browser traffic: judging a collect batch, then storing or queueing it (SPEC 4.1).

A request either writes its batch itself (`browser_batch_record`) or, in queued
mode (COLLECT_QUEUE), stores it as one durable row (`browser_batch_enqueue`) for
`collect_writer` to write hundreds at a time. Both end in `collect_writer.py`.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ascendkit_site import ids
from identity.models import Environment

from ..cleaning import clean_text, is_client_event_name
from ..enrichment.geo import Place
from ..enrichment.sources import PageUrl
from ..enrichment.useragent import Device
from ..items import URL_MAX, ItemRejected, item_page, item_properties, item_time, parse_client_time
from ..models import BotHit, CollectBatch
from .bulk import rows_insert
from .collect_writer import BrowserBatch, RecordResult, browser_batches_write
from .sessions import Client

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


def browser_batch_record(*, batch: BrowserBatch) -> RecordResult:
    """Store one batch now, in this request's own transaction."""
    return browser_batches_write(batches=[batch])[0]


def browser_batch_enqueue(*, batch: BrowserBatch) -> RecordResult:
    """Queue one batch durably for `collect_writer`: one INSERT, nothing read.

    Duplicates are dropped when the writer stores the batch, so the answer can
    only count the repeats within the batch itself; a repeat of an item already
    stored is acknowledged as accepted and not stored again.
    """
    fresh, seen = [], set()
    for item in batch.items:
        if item.message_id not in seen:
            seen.add(item.message_id)
            fresh.append(item)
    if fresh:
        # One row, one statement, no model instance: this is the whole write of a request.
        rows_insert(
            model=CollectBatch,
            rows=[
                {
                    "environment_id": batch.environment.id,
                    "visitor_public_id": batch.visitor_public_id,
                    "received_at": timezone.now(),
                    "payload": batch_payload(batch.client, fresh),
                    "attempts": 0,
                    "last_error": "",
                }
            ],
        )
    return RecordResult(accepted=len(fresh), duplicates=len(batch.items) - len(fresh))


def batch_payload(client: Client, items: list[BrowserItem]) -> dict:
    """A queued batch as JSON: the enriched client and the validated items."""
    return {
        "client": {
            **client.__dict__,
            "device": client.device.__dict__,
            "place": client.place.__dict__,
        },
        "items": [
            {**item.__dict__, "at": item.at.isoformat(), "page": item.page.__dict__ if item.page else None}
            for item in items
        ],
    }


def batch_from_payload(*, environment: Environment, visitor_public_id: str, payload: dict) -> BrowserBatch:
    client = payload["client"]
    return BrowserBatch(
        environment=environment,
        visitor_public_id=visitor_public_id,
        client=Client(**{**client, "device": Device(**client["device"]), "place": Place(**client["place"])}),
        items=[
            BrowserItem(
                **{
                    **item,
                    "at": datetime.fromisoformat(item["at"]),
                    "page": PageUrl(**item["page"]) if item["page"] else None,
                }
            )
            for item in payload["items"]
        ],
    )


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
