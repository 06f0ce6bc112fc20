"""Browser traffic (SPEC 4.1): the one entry point of collect, and its queue.

`browser_batch_accept` is what the view calls: it judges each item, enriches the
batch (device, place, and each pageview's source and channel), and then writes it
at once (`collect_writer.browser_batches_write`) or, in queued mode
(COLLECT_QUEUE), stores it as one durable row that `collect_queue_drain` later
writes hundreds at a time with the same writer. The queue's payload codec lives
here too, beside both ends of the queue.
"""

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.db.models import F
from django.utils import timezone

from ascendkit_site import fastjson, ids
from identity.models import Environment

from ..cleaning import clean_text, is_client_event_name
from ..enrichment.geo import Place, place_for_ip
from ..enrichment.sources import PageUrl, Traffic, traffic_from
from ..enrichment.useragent import Device, device_from_user_agent
from ..items import (
    URL_MAX,
    BrowserBatch,
    BrowserItem,
    Client,
    ItemRejected,
    item_page,
    item_properties,
    item_time,
    parse_client_time,
    restored,
)
from ..models import BotHit, CollectBatch
from .bulk import rows_insert
from .collect_writer import RecordResult, browser_batches_write

logger = logging.getLogger(__name__)

TITLE_MAX = 512
USER_AGENT_MAX = 512
# A queued batch that failed this often stays in the table for a person to look at.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class CollectAnswer:
    visitor_id: str  # the one used: the client's, or minted when it had none or a bad one
    accepted: int
    duplicates: int
    rejected: list[dict]


def browser_batch_accept(
    *, environment: Environment, body: dict, raw_items: list, client_ip: str | None, request_user_agent: str
) -> CollectAnswer:
    """Judge, enrich and store (or queue) one collect request's batch.

    `client_ip` is used for the geo lookup and dropped: it is never stored.
    """
    received_at = timezone.now()
    visitor_id = body.get("visitorId")
    if not ids.is_visitor_id(visitor_id):
        visitor_id = ids.mint("vis")
    items, rejected = browser_items_parse(raw_items, sent_at=body.get("sentAt"), received_at=received_at)

    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    user_agent = clean_text(context.get("userAgent") or request_user_agent, USER_AGENT_MAX)
    device = device_from_user_agent(user_agent)
    if device.is_bot:
        # Bots leave no trace but a daily count.
        bot_hits_count(environment=environment, count=len(items), day=received_at.date())
        return CollectAnswer(visitor_id=visitor_id, accepted=0, duplicates=0, rejected=rejected)

    batch = BrowserBatch(
        environment=environment,
        visitor_public_id=visitor_id,
        items=items,
        client=_client(context, device, place_for_ip(client_ip)),
    )
    result = _store_or_queue(batch)
    return CollectAnswer(
        visitor_id=visitor_id, accepted=result.accepted, duplicates=result.duplicates, rejected=rejected
    )


def _store_or_queue(batch: BrowserBatch) -> RecordResult:
    # The two modes share everything but this hand-off.
    if settings.COLLECT_QUEUE:
        return browser_batch_enqueue(batch=batch)
    return browser_batches_write(batches=[batch])[0]


# --- Judging and enriching items --------------------------------------------------------


def browser_items_parse(raw_items: list, *, sent_at, received_at: datetime) -> tuple[list[BrowserItem], list[dict]]:
    """Judge each item on its own: the good ones as BrowserItems, the bad ones as `rejected`."""
    sent = parse_client_time(sent_at)
    items, rejected = [], []
    for index, raw in enumerate(raw_items):
        try:
            items.append(_parse_item(index, raw, sent_at=sent, received_at=received_at))
        except ItemRejected as rejection:
            rejected.append({"index": index, "reason": rejection.reason})
    return items, rejected


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
        referrer = clean_text(raw.get("referrer"), URL_MAX)
        return BrowserItem(
            index=index,
            message_id=message_id,
            at=at,
            page=page,
            traffic=traffic_from(page, referrer or None),
            referrer=referrer,
            title=clean_text(raw.get("title"), TITLE_MAX),
        )
    name = raw.get("name")
    if not is_client_event_name(name):
        raise ItemRejected("invalid_name")
    return BrowserItem(
        index=index,
        message_id=message_id,
        at=at,
        page=page,
        name=name,
        properties=item_properties(raw.get("properties")),
    )


def _client(context: dict, device: Device, place: Place) -> Client:
    width, height = _screen_size(context)
    return Client(
        device=device,
        place=place,
        screen_width=width,
        screen_height=height,
        locale=clean_text(context.get("locale"), 35),
        time_zone=clean_text(context.get("timezone"), 64),
    )


def _screen_size(context: dict) -> tuple[int | None, int | None]:
    screen = context.get("screen")
    if not isinstance(screen, dict):
        return None, None

    def dimension(value):
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return int(value) if is_number and 0 < value < 100_000 else None

    return dimension(screen.get("width")), dimension(screen.get("height"))


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


# --- The queue: enqueue, the payload codec, drain ----------------------------------------


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
        if settings.COLLECT_WRITER == "thread":
            transaction.on_commit(drainer.wake)
    return RecordResult(accepted=len(fresh), duplicates=len(batch.items) - len(fresh))


def batch_payload(client: Client, items: list[BrowserItem]) -> bytes:
    """A queued batch as UTF-8 JSON: the enriched client and the validated items, as their fields."""
    return fastjson.dumps({"client": client, "items": items})


def payload_decode(payload: bytes | memoryview | str) -> dict:
    """A queued batch's payload as the dict `batch_payload` encoded (databases hand back bytes or a view)."""
    return fastjson.loads(bytes(payload) if isinstance(payload, memoryview) else payload)


def batch_from_payload(*, environment: Environment, visitor_public_id: str, payload: bytes) -> BrowserBatch:
    data = payload_decode(payload)
    client = data["client"]
    return BrowserBatch(
        environment=environment,
        visitor_public_id=visitor_public_id,
        client=restored(
            Client,
            {**client, "device": restored(Device, client["device"]), "place": restored(Place, client["place"])},
        ),
        items=[_item_from_payload(item) for item in data["items"]],
    )


def _item_from_payload(item: dict) -> BrowserItem:
    # The dict is the decoder's own: changed in place, it is the new item's fields.
    item["at"] = datetime.fromisoformat(item["at"])
    if item["page"]:
        item["page"] = restored(PageUrl, item["page"])
    if item.get("traffic"):
        item["traffic"] = restored(Traffic, item["traffic"])
    return restored(BrowserItem, item)


def collect_queue_drain(*, limit: int = 500) -> int:
    """Write up to `limit` queued batches, oldest first; answer how many were taken.

    Batches are claimed with SKIP LOCKED, so several writers can run side by side.
    A chunk that fails is retried one batch at a time, so one bad batch cannot hold
    up the rest: it keeps its error and is tried again until MAX_ATTEMPTS.
    """
    with transaction.atomic():
        pending = CollectBatch.objects.select_for_update(skip_locked=True).filter(attempts__lt=MAX_ATTEMPTS)
        return _write_claimed(list(pending.order_by("id")[:limit]))


def collect_queue_flush(*, environment: Environment, limit: int = 2_000) -> None:
    """Write the environment's queued batches now, before a read that must see them.

    Reads of a user's history and of reports call this, so what a client was told
    is accepted shows up in the next answer, as in inline mode. Without SKIP LOCKED:
    a batch a writer holds is waited for, and it is written when the wait ends.
    """
    if not settings.COLLECT_QUEUE or not CollectBatch.objects.filter(environment=environment).exists():
        return
    with transaction.atomic():
        pending = CollectBatch.objects.select_for_update().filter(environment=environment, attempts__lt=MAX_ATTEMPTS)
        _write_claimed(list(pending.order_by("id")[:limit]))


def _write_claimed(rows: list[CollectBatch]) -> int:
    """Write claimed queue rows and delete those written; inside the claiming transaction."""
    if not rows:
        return 0
    environments = Environment.objects.in_bulk({row.environment_id for row in rows})
    batches = [
        batch_from_payload(
            environment=environments[row.environment_id],
            visitor_public_id=row.visitor_public_id,
            payload=row.payload,
        )
        for row in rows
    ]
    try:
        with transaction.atomic():
            browser_batches_write(batches=batches)
        written = rows
    except Exception:
        logger.exception("A chunk of %d queued batches failed; writing them one at a time.", len(rows))
        written = _write_one_by_one(rows, batches)
    CollectBatch.objects.filter(pk__in=[row.pk for row in written]).delete()
    return len(rows)


class QueueDrainer:
    """Drains the queue from a thread of the web process itself (COLLECT_WRITER=thread).

    A request wakes it once its batch is committed. It then lets batches gather for
    a moment before it writes (a transaction's fixed cost, a dozen statements, would
    otherwise be paid by every batch of a server that takes one request at a time),
    and while a chunk is being written the batches that arrive meanwhile wait for the
    next one, so the busier the server, the more each transaction carries. It also
    looks every few seconds, for batches another process left behind (a worker that
    died). A separate `collect_writer` process (COLLECT_WRITER=external) does the
    same work instead; beside threaded workers it should (see the README).
    """

    IDLE_SECONDS = 5.0
    GATHER_SECONDS = 0.5
    # Smaller than the external writer's: a chunk holds the interpreter lock, which the
    # requests of this process wait for.
    CHUNK = 100
    # The lock passes between threads this often (Python's default is 5 ms): a request
    # takes it back after each network wait, and should not wait long for the writer.
    SWITCH_INTERVAL_SECONDS = 0.001
    ERROR_PAUSE_SECONDS = 1.0

    def __init__(self):
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stopping = threading.Event()

    def wake(self) -> None:
        self._ensure_running()
        self._wake.set()

    def _ensure_running(self) -> None:
        # A forked process (a gunicorn worker) inherits no threads: start one per process.
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                sys.setswitchinterval(min(sys.getswitchinterval(), self.SWITCH_INTERVAL_SECONDS))
                self._thread = threading.Thread(target=self._run, name="collect-queue-drainer", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after the chunk in hand (a test's drainer; the server's lives with its process)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self._wake.wait(self.IDLE_SECONDS):
                time.sleep(self.GATHER_SECONDS)
            self._wake.clear()
            try:
                close_old_connections()
                # A full chunk means more are waiting; after a partial one, gather again.
                while collect_queue_drain(limit=self.CHUNK) == self.CHUNK:
                    pass
            except Exception:
                # The database is away, most likely: the batches are safe in the queue.
                logger.warning("Writing queued collect batches failed; trying again shortly.", exc_info=True)
                # Dropped without close_old_connections' checks, which need the database
                # themselves and would end this thread with a second error.
                connections.close_all()
                self._wake.wait(self.ERROR_PAUSE_SECONDS)


drainer = QueueDrainer()


def _write_one_by_one(rows, batches: list[BrowserBatch]) -> list:
    written = []
    for row, batch in zip(rows, batches, strict=True):
        try:
            with transaction.atomic():
                browser_batches_write(batches=[batch])
            written.append(row)
        except Exception as error:
            logger.exception("Queued batch %d failed (attempt %d).", row.pk, row.attempts + 1)
            row.attempts += 1
            row.last_error = f"{type(error).__name__}: {error}"[:500]
            row.save(update_fields=["attempts", "last_error"])
    return written
