"""`make reliability`: faults and hostile input against the production setup, as a table.

Starts its own PostgreSQL cluster, redis-server, granian, collect_writer, Celery
worker and beat, and nginx (reliability/stack.py), then, one after the other:
stops PostgreSQL mid-load, kills the writer and a web worker with -9, stops Redis,
runs the slow-body attack with and without nginx, fuzzes the API with schemathesis,
and sweeps the dump, the logs and Redis for the test addresses and plain secrets.
Delivery is counted by messageId: acknowledged (a 2xx answer) against stored.
Every loop is bounded; the run takes about three minutes. Exit status 1 when a
row fails.
"""

import os
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import TEST_ADDRESSES, collect_batch, request, run_collect_load, slow_body_attack  # noqa: E402
from stack import PYTHON, ROOT, Stack  # noqa: E402

PASSWORD = "reliability-passphrase-42"
DRAIN_SECONDS = 90
SCHEMATHESIS_SECONDS = int(os.environ.get("RELIABILITY_SCHEMATHESIS_SECONDS", "60"))


@dataclass
class Row:
    fault: str
    acknowledged: str = "–"
    stored: str = "–"
    lost: str = "–"
    doubled: str = "–"
    figure: str = ""
    ok: bool = True
    verdict: str = ""  # shown instead of ok/FAIL for a row that only measures


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- counting what was stored ---------------------------------------------------------


def drain(stack: Stack) -> None:
    """Wait until the collect writer has written every queued batch it can."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        (pending,) = stack.sql("SELECT count(*) FROM analytics_collectbatch WHERE attempts < 5")[0]
        if pending == 0:
            return
        time.sleep(0.5)


def delivery_row(stack: Stack, fault: str, prefix: str, tally, figure: str) -> Row:
    drain(stack)
    stored = dict(
        stack.sql(f"SELECT message_id, count(*) FROM analytics_pageview WHERE message_id LIKE '{prefix}-%' GROUP BY 1")
    )
    lost = len(tally.acknowledged - stored.keys())
    doubled = sum(1 for count in stored.values() if count > 1)
    return Row(
        fault,
        acknowledged=f"{len(tally.acknowledged):,}",
        stored=f"{len(stored):,}",
        lost=str(lost),
        doubled=str(doubled),
        figure=figure,
        ok=lost == 0 and doubled == 0 and bool(tally.acknowledged),
    )


def in_background(call) -> tuple[threading.Thread, dict]:
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", call()))
    thread.start()
    return thread, result


def load(stack: Stack, prefix: str, **kwargs):
    return in_background(lambda: run_collect_load(stack.proxy_url, stack.keys["envKey"], prefix=prefix, **kwargs))


# --- the faults -----------------------------------------------------------------------


def postgres_stopped(stack: Stack) -> Row:
    thread, result = load(stack, "pg", batches=10_000, seconds=14)
    time.sleep(2)
    log("stopping PostgreSQL for 8 s")
    stack.postgres_stop()
    time.sleep(8)
    stack.postgres_start()
    thread.join()
    tally = result["value"]
    fast = tally.unavailable_seconds
    figure = (
        f"{len(fast)} answers 503 + Retry-After, median {statistics.median(fast) * 1000:.0f} ms"
        if fast
        else "no 503 seen"
    )
    return delivery_row(stack, "PostgreSQL stopped 8 s mid-load", "pg", tally, figure)


def writer_killed(stack: Stack) -> Row:
    thread, result = load(stack, "writer", batches=10_000, seconds=6)
    for _ in range(3):
        time.sleep(1.2)
        stack.kill("writer")
        stack.writer_start()
    thread.join()
    return delivery_row(stack, "collect_writer killed -9, 3 times", "writer", result["value"], "restarted each time")


def web_worker_killed(stack: Stack) -> Row:
    thread, result = load(stack, "web", batches=10_000, seconds=6)
    killed = 0
    for _ in range(2):
        time.sleep(1.5)
        workers = stack.web_workers()
        if workers:
            os.kill(workers[0], 9)
            killed += 1
    thread.join()
    stack.wait_ready()  # the replacement workers load the app before the next fault
    return delivery_row(stack, "web worker killed -9, twice", "web", result["value"], f"{killed} killed")


def signups(stack: Stack, emails_and_visitors: list[tuple[str, str | None]]) -> tuple[list[float], list[str]]:
    """Sign each email up; answers the seconds each call took and the tokens given."""
    seconds_taken, tokens = [], []
    for email, visitor in emails_and_visitors:
        body = {"email": email, "password": PASSWORD, **({"visitorId": visitor} if visitor else {})}
        headers = {"X-AscendKit-Env-Key": stack.keys["envKey"], "X-Forwarded-For": TEST_ADDRESSES[0]}
        status, answer, seconds = request(stack.proxy_url, "POST", "/v1/auth/signup", body, headers)
        seconds_taken.append(seconds if status == 201 else float("inf"))
        if status == 201:
            tokens.append(answer["token"])
    return seconds_taken, tokens


def every_other_endpoint(stack: Stack, tokens: list[str]) -> tuple[dict, float]:
    """Call each endpoint but signup once; answers their statuses and the slowest time."""
    env, secret = {"X-AscendKit-Env-Key": stack.keys["envKey"]}, {"Authorization": f"Bearer {stack.keys['secretKey']}"}

    def user_of(token: str) -> str:
        _, answer, _ = request(stack.proxy_url, "GET", "/v1/auth/me", None, {**env, "Authorization": f"Bearer {token}"})
        return (answer or {}).get("user", {}).get("id", "usr_missing")

    user_id, erased_id = user_of(tokens[0]), user_of(tokens[1])
    event = {"events": [{"userId": user_id, "name": "app.paid", "messageId": "r1"}]}
    calls = {
        "me": ("GET", "/v1/auth/me", None, {**env, "Authorization": f"Bearer {tokens[0]}"}),
        "login": ("POST", "/v1/auth/login", {"email": "baseline0@example.com", "password": PASSWORD}, env),
        "identify": ("POST", "/v1/identify", {"userId": user_id, "visitorId": "vis_RedisOutageExtra00000"}, secret),
        "events": ("POST", "/v1/events", event, secret),
        "profile": ("GET", f"/v1/users/{user_id}", None, secret),
        "timeline": ("GET", f"/v1/users/{user_id}/timeline", None, secret),
        "approve": ("POST", f"/v1/users/{user_id}/approve", None, secret),
        "erase": ("DELETE", f"/v1/users/{erased_id}", None, secret),
        "logout": ("POST", "/v1/auth/logout", None, {**env, "Authorization": f"Bearer {tokens[2]}"}),
    }  # fmt: skip
    statuses, slowest = {}, 0.0
    for name, (method, path, body, headers) in calls.items():
        status, answer, seconds = request(stack.proxy_url, method, path, body, headers)
        if name == "login" and status == 200:
            tokens.append(answer["token"])
        statuses[name] = status
        slowest = max(slowest, seconds)
    return statuses, slowest


def redis_stopped(stack: Stack) -> tuple[list[Row], list[str], list[str]]:
    """Stop Redis, call every endpoint, bring it back. Answers rows, visitors to check, tokens."""
    visitors = [f"vis_RedisOutage{number:02d}".ljust(24, "0") for number in range(10)]
    for visitor in visitors:  # their pre-signup history, written before the outage
        body = collect_batch([f"pre-{visitor}"], visitor)
        request(stack.proxy_url, "POST", "/v1/analytics/collect", body, {"X-AscendKit-Env-Key": stack.keys["envKey"]})
    drain(stack)
    # The same call with Redis up: the password hash is most of its cost.
    baseline, tokens = signups(stack, [(f"baseline{number}@example.com", None) for number in range(5)])
    log("stopping Redis")
    stack.redis_stop()
    during, outage_tokens = signups(stack, [(f"outage{n}@example.com", visitor) for n, visitor in enumerate(visitors)])
    tokens += outage_tokens
    statuses, slowest = every_other_endpoint(stack, tokens)
    tally = run_collect_load(stack.proxy_url, stack.keys["envKey"], prefix="redis", clients=2, batches=40)
    stack.redis_start()
    log("Redis is back")
    # Redis may add at most a second to what a call costs with Redis up.
    allowed = max(baseline) + 1.0
    answered = [seconds for seconds in during if seconds != float("inf")]
    rows = [
        Row(
            "Redis stopped: signup",
            figure=f"{len(answered)}/{len(during)} answered 201, slowest {max(during) * 1000:.0f} ms, median "
            f"{statistics.median(during) * 1000:.0f} ms; with Redis up: slowest {max(baseline) * 1000:.0f} ms, "
            f"median {statistics.median(baseline) * 1000:.0f} ms (the password hash)",
            ok=len(answered) == len(during) and max(during) < allowed,
        ),
        Row(
            "Redis stopped: every other endpoint",
            figure=f"slowest {slowest * 1000:.0f} ms; " + ", ".join(f"{n} {s}" for n, s in statuses.items()),
            ok=all(status < 500 for status in statuses.values()) and slowest < allowed,
        ),
        delivery_row(stack, "Redis stopped: collect (queued)", "redis", tally, "no Redis on the collect path"),
    ]
    return rows, visitors, tokens


def history_stitched(stack: Stack, visitors: list[str], redis_back_at: float) -> Row:
    # The sweep picks links up a minute after they were made; beat runs it every
    # five minutes, so it is called here once the minute has passed.
    time.sleep(max(0.0, 62 - (time.monotonic() - redis_back_at)))
    subprocess.run(
        [PYTHON, "-m", "celery", "-A", "ascendkit_site", "call", "analytics.tasks.stitch_pending_visitors"],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        check=True,
    )
    wanted = ", ".join(f"'{visitor}'" for visitor in visitors)
    deadline = time.monotonic() + 60
    started = time.monotonic()
    stitched = 0
    while time.monotonic() < deadline:
        (stitched,) = stack.sql(
            f"SELECT count(*) FROM analytics_visitor WHERE public_id IN ({wanted}) AND stitched_at IS NOT NULL"
        )[0]
        if stitched == len(visitors):
            break
        time.sleep(0.5)
    (owned,) = stack.sql(
        "SELECT count(*) FROM analytics_pageview p JOIN analytics_visitor v ON p.visitor_id = v.id "
        f"WHERE v.public_id IN ({wanted}) AND p.user_id IS NOT NULL"
    )[0]
    return Row(
        "Redis back: the sweep stitches the signups' history",
        figure=f"{stitched}/{len(visitors)} visitors stitched, {owned} pre-signup pageviews given to their users, "
        f"{time.monotonic() - started:.1f} s after the sweep was queued; worker restarted by its supervisor "
        f"{stack.restarts.get('worker', 0)} time(s)",
        ok=stitched == len(visitors) and owned == len(visitors),
    )


def slow_bodies(stack: Stack) -> list[Row]:
    rows = []
    targets = (("granian alone", stack.web_url, False), ("nginx in front (after)", stack.proxy_url, True))
    for label, url, must_hold in targets:
        answers, held = slow_body_attack(url, stack.keys["envKey"])
        answered = [seconds for seconds in answers if seconds is not None]
        figure = f"normal collects meanwhile: {len(answered)}/{len(answers)} answered within 15 s"
        if answered:
            figure += f", slowest {max(answered) * 1000:.0f} ms"
        figure += f"; stalled connections still held at 16 s: {held}/40"
        ok = len(answered) == len(answers) and max(answered) < 1.0 and held == 0
        verdict = "" if must_hold else "stalled" if not answered else "measured"
        rows.append(Row(f"Slow-body attack, {label}", figure=figure, ok=ok or not must_hold, verdict=verdict))
    return rows


def schemathesis(stack: Stack, token: str) -> Row:
    env = {
        **stack.env(),
        "ASCENDKIT_ENV_KEY": stack.keys["envKey"],
        "ASCENDKIT_SECRET_KEY": stack.keys["secretKey"],
        "ASCENDKIT_USER_TOKEN": token,
    }
    command = [
        str(Path(PYTHON).parent / "schemathesis"),
        "--no-color",
        "run",
        f"{stack.proxy_url}/v1/schema",
        "--checks",
        "all",
        "--max-time",
        str(SCHEMATHESIS_SECONDS),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SCHEMATHESIS_SECONDS + 120
    )
    output = done.stdout + done.stderr
    (stack.workdir / "schemathesis.txt").write_text(output)
    cases = re.search(r"(\d+) generated, (\d+) (?:passed|found (\d+) unique failures?)", output)
    server_errors = len(re.findall(r"Server error", output))
    summary = cases.group(0) if cases else output.strip().splitlines()[-1][:120]
    return Row(
        "schemathesis, every operation, --checks all",
        figure=f"{summary}; {server_errors} server errors",
        ok=done.returncode == 0 and server_errors == 0,
    )


def privacy(stack: Stack, tokens: list[str]) -> Row:
    secrets = [stack.keys["secretKey"], PASSWORD, *tokens]
    places = {"dump": stack.dump(), "logs": stack.logs(), "Redis": stack.redis_contents()}
    addresses = {name: sum(text.count(address) for address in TEST_ADDRESSES) for name, text in places.items()}
    plain = {name: sum(text.count(secret) for secret in secrets) for name, text in places.items()}
    figure = "; ".join(f"{name}: {addresses[name]} raw IPs, {plain[name]} plain secrets" for name in places)
    return Row(
        "Privacy sweep: dump, logs, Redis", figure=figure, ok=not any(addresses.values()) and not any(plain.values())
    )


# --- the table ------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    header = ("fault", "acknowledged", "stored", "lost", "doubled", "result", "figure")
    lines = [header] + [
        (r.fault, r.acknowledged, r.stored, r.lost, r.doubled, r.verdict or ("ok" if r.ok else "FAIL"), r.figure)
        for r in rows
    ]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header) - 1)]
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=False))
        ]
        print("| " + " | ".join([*cells, line[-1]]) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|---|")


def main() -> int:
    stack = Stack()
    rows: list[Row] = []
    started = time.monotonic()
    try:
        log(f"starting the stack in {stack.workdir}")
        stack.start()
        log("PostgreSQL stopped mid-load")
        rows.append(postgres_stopped(stack))
        log("collect_writer killed")
        rows.append(writer_killed(stack))
        log("web worker killed")
        rows.append(web_worker_killed(stack))
        log("Redis stopped")
        redis_rows, visitors, tokens = redis_stopped(stack)
        redis_back_at = time.monotonic()
        rows.extend(redis_rows)
        log("slow-body attack")
        rows.extend(slow_bodies(stack))
        log("schemathesis")
        _, answer, _ = request(
            stack.proxy_url,
            "POST",
            "/v1/auth/signup",
            {"email": "fuzz@example.com", "password": PASSWORD},
            {"X-AscendKit-Env-Key": stack.keys["envKey"]},
        )
        tokens.append(answer["token"])
        rows.append(schemathesis(stack, answer["token"]))
        log("waiting for the stitch sweep")
        rows.append(history_stitched(stack, visitors, redis_back_at))
        log("privacy sweep")
        rows.append(privacy(stack, tokens))
    finally:
        keep = bool(os.environ.get("RELIABILITY_KEEP"))
        stack.stop(keep_files=keep)
        if keep:
            log(f"logs and schemathesis output kept in {stack.workdir}")
    print()
    print_table(rows)
    print(f"\n{sum(r.ok for r in rows)}/{len(rows)} ok in {time.monotonic() - started:.0f} s")
    return 0 if rows and all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
