"""When the Python SDK sends, what it sends again, and when it gives up."""

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

from .python_sdk_fakes import SECRET_KEY, FakeEventsServer, Reply


def track_many(client, count: int, user_id: str = "usr_A") -> None:
    for number in range(count):
        client.track(user_id, "item.viewed", {"number": number})


# --- Batching ------------------------------------------------------------------------------


def test_ten_events_leave_as_one_batch_without_waiting_for_the_timer(fake_server, make_client):
    client = make_client(fake_server.url, flush_interval=60.0)
    track_many(client, 10)

    (request,) = fake_server.wait_for_requests(1, timeout=5)

    assert len(request.body["events"]) == 10


def test_nine_events_wait_for_the_timer(fake_server, make_client):
    client = make_client(fake_server.url, flush_interval=60.0)
    track_many(client, 9)

    assert fake_server.wait_for_requests(1, timeout=0.5) == []


def test_an_event_leaves_once_it_has_waited_the_flush_interval(fake_server, make_client):
    client = make_client(fake_server.url, flush_interval=0.4)
    tracked_at = time.monotonic()
    client.track("usr_A", "signed_up")

    (request,) = fake_server.wait_for_requests(1, timeout=5)

    assert 0.35 <= request.at - tracked_at < 3.0
    assert [item["name"] for item in request.body["events"]] == ["app.signed_up"]


def test_one_request_carries_at_most_a_hundred_events(fake_server, make_client):
    client = make_client(fake_server.url, flush_at=1000)
    track_many(client, 250)

    assert client.flush(timeout=10)

    assert [len(request.body["events"]) for request in fake_server.received] == [100, 100, 50]


# --- flush() -------------------------------------------------------------------------------


def test_flush_returns_once_the_server_has_answered(fake_server, make_client):
    fake_server.replies = [Reply(delay=0.3)]
    client = make_client(fake_server.url)
    track_many(client, 3)

    assert client.flush() is True

    assert len(fake_server.delivered_message_ids()) == 3
    assert client.delivered == 3


def test_flush_with_a_timeout_gives_up_waiting_but_keeps_the_events(fake_server, make_client):
    fake_server.replies = [Reply(delay=1.0)]
    client = make_client(fake_server.url)
    client.track("usr_A", "signed_up")

    started = time.monotonic()
    assert client.flush(timeout=0.2) is False
    assert time.monotonic() - started < 1.0

    assert client.flush(timeout=5) is True
    assert len(fake_server.delivered_message_ids()) == 1


def test_flush_with_nothing_queued_returns_at_once(fake_server, make_client):
    client = make_client(fake_server.url)

    assert client.flush(timeout=0.1) is True
    assert fake_server.received == []


# --- Retries -------------------------------------------------------------------------------


def test_it_retries_5xx_and_network_errors_with_the_same_message_ids(fake_server, make_client):
    fake_server.replies = [Reply(status=500), Reply(status=502), Reply(status=504)]
    client = make_client(fake_server.url)
    track_many(client, 4)

    assert client.flush(timeout=5)

    requests = fake_server.received
    assert len(requests) == 4
    assert all(request.message_ids == requests[0].message_ids for request in requests)
    # A fresh sentAt each time: the server measures the clock skew at this attempt.
    assert len({request.body["sentAt"] for request in requests}) == 4


def test_a_503_and_then_success_delivers_each_event_once(fake_server, make_client):
    fake_server.replies = [Reply(status=503, headers={"Retry-After": "0"})]
    client = make_client(fake_server.url)
    track_many(client, 25)

    assert client.flush(timeout=5)

    delivered = Counter(fake_server.delivered_message_ids())
    assert len(delivered) == 25 and set(delivered.values()) == {1}
    assert (client.delivered, client.failed) == (25, 0)


def test_it_waits_as_long_as_retry_after_says(fake_server, make_client):
    fake_server.replies = [Reply(status=429, headers={"Retry-After": "1"})]
    client = make_client(fake_server.url, retry_base_delay=0.01)
    client.track("usr_A", "signed_up")

    assert client.flush(timeout=5)

    first, second = fake_server.received
    assert 0.95 <= second.at - first.at < 3.0


def test_backoff_waits_longer_after_each_failure(fake_server, make_client):
    fake_server.replies = [Reply(status=500)] * 4
    client = make_client(fake_server.url, retry_base_delay=0.1, retry_max_delay=10.0)
    client.track("usr_A", "signed_up")

    assert client.flush(timeout=10)

    times = [request.at for request in fake_server.received]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # Each wait is between half and all of 0.1 s * 2^n.
    for attempt, gap in enumerate(gaps[:4]):
        assert 0.1 * 2**attempt / 2 - 0.01 <= gap < 0.1 * 2**attempt + 0.5


def test_a_client_error_is_logged_and_not_retried(fake_server, make_client, caplog):
    fake_server.replies = [Reply(status=400, body={"error": {"code": "invalid_request", "message": "Bad."}})]
    client = make_client(fake_server.url)
    with caplog.at_level(logging.ERROR, logger="ascendkit"):
        client.track("usr_A", "signed_up")
        assert client.flush(timeout=5)

    assert len(fake_server.received) == 1
    assert "invalid_request" in caplog.text
    assert client.failed == 1


def test_items_the_server_rejects_are_logged_by_name(fake_server, make_client, caplog):
    fake_server.replies = [
        Reply(body={"accepted": 1, "duplicates": 0, "rejected": [{"index": 1, "reason": "unknown_user"}]})
    ]
    client = make_client(fake_server.url)
    with caplog.at_level(logging.WARNING, logger="ascendkit"):
        client.track("usr_A", "first")
        client.track("usr_Nobody", "second")
        assert client.flush(timeout=5)

    assert "app.second" in caplog.text and "unknown_user" in caplog.text
    assert "app.first" not in caplog.text


def test_a_batch_is_given_up_when_its_retry_time_is_spent(dead_url, make_client, caplog):
    client = make_client(dead_url, max_retry_time=0.5)
    with caplog.at_level(logging.ERROR, logger="ascendkit"):
        client.track("usr_A", "signed_up")
        started = time.monotonic()
        assert client.flush(timeout=5)

    assert time.monotonic() - started < 2.0
    assert client.failed == 1 and "given up" in caplog.text


# --- shutdown() ----------------------------------------------------------------------------


def test_shutdown_delivers_what_is_queued(fake_server, make_client):
    client = make_client(fake_server.url)
    track_many(client, 3)

    assert client.shutdown() is True

    assert len(fake_server.delivered_message_ids()) == 3


def test_shutdown_returns_within_its_bound_when_the_server_is_dead(dead_url, make_client):
    client = make_client(dead_url, max_retry_time=60.0)
    track_many(client, 25)

    started = time.monotonic()
    assert client.shutdown(timeout=1.0) is False
    elapsed = time.monotonic() - started

    # It did retry, and stopped at the bound (plus the join's slack), not after 60 s.
    assert 0.7 < elapsed < 2.5


def test_shutdown_returns_within_its_bound_when_the_server_never_answers(make_client):
    hanging = FakeEventsServer()
    hanging.replies = [Reply(delay=30.0)] * 10
    try:
        client = make_client(hanging.url, request_timeout=30.0)
        client.track("usr_A", "signed_up")
        assert client.flush(timeout=0.1) is False  # sent, and waiting for the answer
        assert len(hanging.wait_for_requests(1)) == 1

        started = time.monotonic()
        assert client.shutdown(timeout=1.0) is False
        assert time.monotonic() - started < 2.5
    finally:
        hanging.close()


def test_shutdown_cuts_a_long_retry_after_short(fake_server, make_client):
    fake_server.replies = [Reply(status=503, headers={"Retry-After": "30"})]
    client = make_client(fake_server.url)
    client.track("usr_A", "signed_up")
    assert client.flush(timeout=0.2) is False  # answered 503, the retry 30 s away
    assert len(fake_server.wait_for_requests(1)) == 1

    started = time.monotonic()
    assert client.shutdown(timeout=2.0) is False
    assert time.monotonic() - started < 1.0  # a retry 30 s away cannot fit: no point waiting


def test_events_tracked_after_shutdown_are_dropped_with_a_warning(fake_server, make_client, caplog):
    client = make_client(fake_server.url)
    client.shutdown()
    with caplog.at_level(logging.WARNING, logger="ascendkit"):
        client.track("usr_A", "late")

    assert client.flush(timeout=0.5)
    assert fake_server.received == [] and "shut down" in caplog.text


def test_the_interpreter_exiting_flushes_the_queue(fake_server):
    script = textwrap.dedent(
        f"""
        from ascendkit import Analytics
        analytics = Analytics(secret_key={SECRET_KEY!r}, api_url={fake_server.url!r})
        analytics.track("usr_A", "process.exited")
        """
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    subprocess.run([sys.executable, "-c", script], env=environment, timeout=30, check=True)

    assert [item["name"] for request in fake_server.received for item in request.body["events"]] == [
        "app.process.exited"
    ]


# --- The queue and threads -----------------------------------------------------------------


def test_a_full_queue_drops_new_events_with_one_warning(fake_server, make_client, caplog):
    client = make_client(fake_server.url, flush_at=100, max_queue_size=5)
    with caplog.at_level(logging.WARNING, logger="ascendkit"):
        track_many(client, 8)
    assert client.flush(timeout=5)

    numbers = [item["properties"]["number"] for request in fake_server.received for item in request.body["events"]]
    assert numbers == [0, 1, 2, 3, 4]
    assert client.dropped == 3
    assert caplog.text.count("queue full") == 1


def test_events_tracked_from_many_threads_are_each_delivered_once(fake_server, make_client):
    client = make_client(fake_server.url)
    fake_server.replies = [Reply(status=503), Reply(status=500)]
    start = threading.Barrier(8)

    def worker(number: int) -> None:
        start.wait()
        for index in range(50):
            client.track(f"usr_{number}", "item.viewed", {"index": index})

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(timeout=10)

    delivered = Counter(fake_server.delivered_message_ids())
    assert len(delivered) == 400 and set(delivered.values()) == {1}
    assert all(len(request.body["events"]) <= 100 for request in fake_server.received)
    assert client.delivered == 400


def test_a_forked_child_sends_its_own_events_and_not_its_parents(fake_server, make_client):
    client = make_client(fake_server.url)
    client.track("usr_A", "queued.in.parent")

    pid = os.fork()
    if pid == 0:  # the child: a preforking server's worker
        try:
            client.track("usr_A", "tracked.in.child")
            os._exit(0 if client.flush(timeout=5) else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.flush(timeout=5)

    names = sorted(item["name"] for request in fake_server.received for item in request.body["events"])
    assert names == ["app.queued.in.parent", "app.tracked.in.child"]
