"""`Analytics`: business events from a Python server, queued and sent by a background thread.

`track()` only validates, encodes and appends to an in-memory queue under a lock;
one daemon thread per client sends batches to `POST /v1/events`. A batch leaves
when `flush_at` events are queued, when its oldest event has waited
`flush_interval` seconds, or when `flush()`/`shutdown()` ask. A batch that fails
is sent again, unchanged (same `messageId`s, fresh `sentAt`), until it is
delivered, refused, or its time budget is spent.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _transport
from ._items import BODY_OVERHEAD_BYTES, InvalidItem, Item, batch_body, build_item
from ._transport import Answer, Outcome

logger = logging.getLogger("ascendkit")

DEFAULT_API_URL = "http://127.0.0.1:8000"
EVENTS_PATH = "/v1/events"
# The server's limits (SPEC 4): at most 100 items and 512 KiB a request.
SERVER_MAX_ITEMS = 100
SERVER_MAX_BODY_BYTES = 512 * 1024


class ConfigurationError(ValueError):
    """The client cannot be built: a missing or malformed key or URL."""


@dataclass
class _Queued:
    item: Item
    queued_at: float  # time.monotonic()


def _reset_in_child(client: weakref.ref[Analytics]) -> None:
    alive = client()
    if alive is not None:
        alive._after_fork()


class Analytics:
    """The server-side client. One per process is enough; it is safe to share between threads.

    Every option has a keyword; the keys and the URL fall back to the environment
    variables `ASCENDKIT_SECRET_KEY`, `ASCENDKIT_ENV_KEY` and `ASCENDKIT_API_URL`.
    """

    def __init__(
        self,
        secret_key: str | None = None,
        api_url: str | None = None,
        *,
        env_key: str | None = None,
        flush_at: int = 10,
        flush_interval: float = 30.0,
        max_queue_size: int = 10_000,
        max_batch_size: int = SERVER_MAX_ITEMS,
        request_timeout: float = 10.0,
        max_retry_time: float = 60.0,
        shutdown_timeout: float = 10.0,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 10.0,
    ) -> None:
        key = secret_key if secret_key is not None else os.environ.get("ASCENDKIT_SECRET_KEY", "")
        if not key:
            raise ConfigurationError("Set ASCENDKIT_SECRET_KEY or pass secret_key= (the environment's sk_ key).")
        if not key.startswith("sk_"):
            raise ConfigurationError("The secret key starts with sk_; the env_ key is the browser's, not the server's.")
        url = (api_url or os.environ.get("ASCENDKIT_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"The API URL must start with http:// or https://, not {url[:40]!r}.")
        env = env_key if env_key is not None else os.environ.get("ASCENDKIT_ENV_KEY") or None
        if flush_at < 1 or max_queue_size < 1 or not 1 <= max_batch_size <= SERVER_MAX_ITEMS:
            raise ConfigurationError(f"flush_at and max_queue_size must be >= 1, max_batch_size 1-{SERVER_MAX_ITEMS}.")

        self.endpoint = url + EVENTS_PATH
        self._headers = {"Authorization": f"Bearer {key}"}
        if env:
            # Optional: the server checks that it belongs to the secret key's environment.
            self._headers["X-AscendKit-Env-Key"] = env
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.request_timeout = request_timeout
        self.max_retry_time = max_retry_time
        self.shutdown_timeout = shutdown_timeout
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay

        self._lock = threading.Condition()
        self._queue: deque[_Queued] = deque()
        self._tracked = 0  # events queued so far, ever
        self._settled = 0  # of those, delivered, refused or given up (they leave in order)
        self._flush_upto = 0  # `flush()` wants the first this-many events settled
        self._dropping = False  # the queue is full: warn once per episode
        self._stopping = False
        self._stop_deadline: float | None = None
        self._closed = False
        # Counters for the application's own monitoring.
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

        self._worker: threading.Thread | None = None
        atexit.register(self._at_exit)
        os.register_at_fork(after_in_child=functools.partial(_reset_in_child, weakref.ref(self)))

    # --- The caller's side -------------------------------------------------------------

    def track(
        self,
        user_id: str,
        event: str,
        properties: Mapping[str, Any] | None = None,
        visitor_id: str | None = None,
        timestamp: dt.datetime | str | None = None,
    ) -> None:
        """Queue `app.` + `event` for the user; never raises. A bad call is logged and dropped."""
        try:
            self._track(user_id, event, properties, visitor_id, timestamp)
        except InvalidItem as error:
            logger.warning("ascendkit: event dropped: %s", error)
        except Exception:  # noqa: BLE001 - track() must never break the caller
            logger.exception("ascendkit: event dropped by an unexpected error")

    def _track(
        self,
        user_id: str,
        event: str,
        properties: Mapping[str, Any] | None,
        visitor_id: str | None,
        timestamp: dt.datetime | str | None,
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        item, warning = build_item(
            user_id=user_id, event=event, properties=properties, visitor_id=visitor_id, timestamp=timestamp, now=now
        )
        if warning:
            logger.warning("ascendkit: %s", warning)
        with self._lock:
            if self._closed:
                logger.warning("ascendkit: event %s dropped: the client was shut down", item.name)
                return
            if len(self._queue) >= self.max_queue_size:
                # Newest dropped: queued events may already be on their way, and
                # their order is kept. One warning per episode, not per event.
                self.dropped += 1
                if not self._dropping:
                    self._dropping = True
                    logger.warning(
                        "ascendkit: queue full (%d events): dropping new events until it drains", self.max_queue_size
                    )
                return
            self._dropping = False
            self._queue.append(_Queued(item=item, queued_at=time.monotonic()))
            self._tracked += 1
            self._ensure_worker()
            if len(self._queue) == 1 or len(self._queue) >= self.flush_at:
                # The first event starts its batch's timer; the flush_at-th sends it.
                self._lock.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event tracked before the call is delivered or given up.

        Returns False when `timeout` seconds passed first (the events stay queued).
        """
        with self._lock:
            target = self._tracked
            if self._settled >= target:
                return True
            self._flush_upto = max(self._flush_upto, target)
            self._ensure_worker()
            self._lock.notify_all()
            return self._lock.wait_for(lambda: self._settled >= target, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Send what is queued, within `timeout` (default `shutdown_timeout`) seconds, then stop.

        Runs at interpreter exit. Returns False when events were left unsent (given
        up, refused, or still in flight at the deadline).
        Events tracked afterwards are dropped with a warning.
        """
        bound = self.shutdown_timeout if timeout is None else timeout
        with self._lock:
            failed_before = self.failed
            if not self._closed:
                self._closed = True
                self._stopping = True
                self._stop_deadline = time.monotonic() + bound
                self._lock.notify_all()
            worker = self._worker
            deadline = self._stop_deadline or time.monotonic()
        atexit.unregister(self._at_exit)
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            # A little past the worker's own deadline: it stops at that deadline,
            # but a request may be mid-flight for a moment.
            worker.join(max(0.0, deadline - time.monotonic()) + 0.5)
        with self._lock:
            unsent = self._tracked - self._settled + self.failed - failed_before
        if unsent:
            logger.error("ascendkit: shut down with %d events unsent", unsent)
        return unsent == 0

    def _at_exit(self) -> None:
        self.shutdown()

    def __enter__(self) -> Analytics:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # --- The sending thread ------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child (a preforking server's worker): a fresh lock, no thread, an empty queue.

        The parent's thread does not exist here and its lock may have been held
        when the process forked. The parent still sends what it had queued.
        """
        self._lock = threading.Condition()
        self._worker = None
        self._queue.clear()
        self._settled = self._flush_upto = self._tracked

    def _ensure_worker(self) -> None:
        """Start the sending thread on first use (called locked)."""
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="ascendkit-sender", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._send(batch)
            except Exception:  # noqa: BLE001 - the thread must outlive any one batch
                logger.exception("ascendkit: %d events dropped by an unexpected error", len(batch))
                self._settle(len(batch), delivered=False)

    def _due(self) -> float | None:
        """Seconds until a batch should leave: 0 now, None when nothing is queued (called locked)."""
        if not self._queue:
            return None
        if self._stopping or len(self._queue) >= self.flush_at or self._flush_upto > self._settled:
            return 0.0
        return max(0.0, self._queue[0].queued_at + self.flush_interval - time.monotonic())

    def _next_batch(self) -> list[Item] | None:
        """Wait until a batch is due and take it off the queue; None once stopped and empty."""
        with self._lock:
            while True:
                if self._stopping and (not self._queue or self._past_stop_deadline()):
                    self._abandon_queue()
                    return None
                due = self._due()
                if due == 0.0:
                    return self._take_batch()
                self._lock.wait(due)

    def _take_batch(self) -> list[Item]:
        batch: list[Item] = []
        size = BODY_OVERHEAD_BYTES
        while self._queue and len(batch) < self.max_batch_size:
            item = self._queue[0].item
            if batch and size + item.size + 1 > SERVER_MAX_BODY_BYTES:
                break
            batch.append(self._queue.popleft().item)
            size += item.size + 1
        return batch

    def _past_stop_deadline(self) -> bool:
        return self._stop_deadline is not None and time.monotonic() >= self._stop_deadline

    def _abandon_queue(self) -> None:
        """Called locked, at shutdown's deadline: what is still queued will not be sent."""
        if self._queue:
            logger.error("ascendkit: %d queued events not sent before the shutdown deadline", len(self._queue))
            count = len(self._queue)
            self._queue.clear()
            self.failed += count
            self._settled += count
            self._lock.notify_all()

    def _budget_end(self, started: float) -> float:
        with self._lock:
            return self._budget_end_locked(started)

    def _send(self, batch: list[Item]) -> None:
        """Deliver one batch, retrying what may succeed later, within its time budget."""
        started = time.monotonic()
        attempt = 0
        while True:
            remaining = self._budget_end(started) - time.monotonic()
            body = batch_body(batch, dt.datetime.now(dt.UTC))
            answer = _transport.post(
                self.endpoint, body, self._headers, timeout=min(self.request_timeout, max(remaining, 0.05))
            )
            attempt += 1
            if answer.outcome is Outcome.DELIVERED:
                self._log_rejected(batch, answer)
                self._settle(len(batch), delivered=True)
                return
            if answer.outcome is Outcome.REFUSED:
                logger.error("ascendkit: %d events refused by the server, not retried: %s", len(batch), answer.detail)
                self._settle(len(batch), delivered=False)
                return
            backoff = _transport.backoff_delay(attempt - 1, base=self.retry_base_delay, cap=self.retry_max_delay)
            retry_at = time.monotonic() + max(backoff, answer.retry_after or 0.0)
            if not self._wait_until(retry_at, started):
                logger.error("ascendkit: %d events given up after %d attempts: %s", len(batch), attempt, answer.detail)
                self._settle(len(batch), delivered=False)
                return
            logger.info("ascendkit: send failed (%s); retrying", answer.detail)

    def _wait_until(self, retry_at: float, started: float) -> bool:
        """Sleep until `retry_at`; False, at once, when that is past the batch's budget.

        A shutdown beginning meanwhile wakes the sleep, because it may have moved
        the budget's end before `retry_at`.
        """
        with self._lock:
            while True:
                if retry_at >= self._budget_end_locked(started):
                    return False
                left = retry_at - time.monotonic()
                if left <= 0:
                    return True
                self._lock.wait(left)

    def _budget_end_locked(self, started: float) -> float:
        """When retrying a batch stops: its own budget, or shutdown's deadline if sooner."""
        end = started + self.max_retry_time
        return end if self._stop_deadline is None else min(end, self._stop_deadline)

    def _log_rejected(self, batch: list[Item], answer: Answer) -> None:
        rejected = answer.body.get("rejected")
        if not isinstance(rejected, list):
            return
        for rejection in rejected:
            index = rejection.get("index") if isinstance(rejection, dict) else None
            reason = rejection.get("reason") if isinstance(rejection, dict) else rejection
            item = batch[index] if isinstance(index, int) and 0 <= index < len(batch) else None
            logger.warning(
                "ascendkit: event %s (messageId %s) rejected by the server: %s",
                item.name if item else "?",
                item.message_id if item else "?",
                reason,
            )

    def _settle(self, count: int, *, delivered: bool) -> None:
        with self._lock:
            self._settled += count
            if delivered:
                self.delivered += count
            else:
                self.failed += count
            self._lock.notify_all()
