"""Stitching a visitor with a long history to a user, timed in-process.

    python -m bench.stitch --env-key KEY   (with the bench database's settings in the environment)

The visitor has SESSIONS sessions of PAGEVIEWS_PER_SESSION pageviews (10,000 by
default), spread over 80 days, and EVENTS_PER_SESSION `app.*` events per session.
Pageviews are loaded with COPY, the rest with bulk_create, then the tables are
ANALYZEd as autovacuum would have done on a live database. Timed:

- link + stitch: `visitor_link(…, signup=True)` in `transaction.atomic()`; Celery
  runs eagerly here (no broker), so the `stitch_visitor` task runs on commit, inside
  the timed block;
- stitch alone: the rows handed back to anonymous, then `visitor_stitch()` directly;
- stitch again: `visitor_stitch()` with nothing left to rewrite (a retried task).

Prints one line `RESULT {json}`; `{"skipped": reason}` when the stitching service
is not there yet.
"""

import argparse
import json
import random
import sys
import time
from datetime import timedelta

SESSIONS = 200
PAGEVIEWS_PER_SESSION = 50
EVENTS_PER_SESSION = 5
HISTORY_DAYS = 80

_PATHS = ["/", "/pricing", "/docs", "/docs/getting-started", "/blog/first-touch-vs-last-touch", "/features", "/signup"]
_SOURCES = [
    ("Google", "organic", "Organic Search", "www.google.com"),
    ("", "", "Direct", ""),
    ("LinkedIn", "social", "Organic Social", "www.linkedin.com"),
    ("ChatGPT", "referral", "Referral", "chatgpt.com"),
]


def emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env-key", required=True)
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--pageviews-per-session", type=int, default=PAGEVIEWS_PER_SESSION)
    args = parser.parse_args(argv)

    import django

    django.setup()
    try:
        from analytics.services.stitching import visitor_link, visitor_stitch
    except ImportError as exc:
        emit({"skipped": f"analytics.services.stitching is not importable yet ({exc})"})
        return 0

    from django.db import transaction

    from analytics.models import Attribution, Event, Pageview, Session, Visitor
    from identity.models import Environment

    environment = Environment.objects.get(env_key=args.env_key)
    visitor, user = _history(environment, args.sessions, args.pageviews_per_session)
    pageviews = args.sessions * args.pageviews_per_session
    events = args.sessions * EVENTS_PER_SESSION

    began = time.perf_counter()
    with transaction.atomic():
        link = visitor_link(environment=environment, user=user, visitor_public_id=visitor.public_id, signup=True)
    link_and_stitch = time.perf_counter() - began
    moved = Pageview.objects.filter(visitor=visitor, user=user).count()
    ran_on_commit = moved == pageviews

    began = time.perf_counter()
    visitor_stitch(visitor_id=visitor.pk)
    again = time.perf_counter() - began

    # Hand the rows back to anonymous and rewrite them again, the stitch alone.
    for model in (Pageview, Session, Event):
        model.objects.filter(visitor=visitor).update(user=None)
    Attribution.objects.filter(visitor=visitor, kind=Attribution.Kind.FIRST_TOUCH).update(user=None)
    Visitor.objects.filter(pk=visitor.pk).update(stitched_at=None)
    began = time.perf_counter()
    stitched = visitor_stitch(visitor_id=visitor.pk)
    alone = time.perf_counter() - began

    user.refresh_from_db()
    emit(
        {
            "history": {"pageviews": pageviews, "sessions": args.sessions, "events": events},
            "link_outcome": link.outcome.value,
            "stitch_ran_on_commit": ran_on_commit,
            "link_and_stitch_ms": round(link_and_stitch * 1000, 1),
            "stitch_alone_ms": round(alone * 1000, 1),
            "stitch_again_noop_ms": round(again * 1000, 1),
            "rows_rewritten": {
                "sessions": stitched.sessions,
                "pageviews": stitched.pageviews,
                "events": stitched.events,
            },
            "user_first_touch_set": user.first_touch_id is not None,
            "user_signup_touch_set": user.signup_touch_id is not None,
            "pageview_rows_in_table": Pageview.objects.count(),
        }
    )
    return 0


def _history(environment, sessions: int, per_session: int):
    """A visitor with a long anonymous history and the user it is about to be linked to."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from analytics.models import Attribution, Event, Pageview, Session, Visitor
    from ascendkit_site import ids
    from identity.models import EndUser

    rng = random.Random(11)
    now = timezone.now()
    first = now - timedelta(days=HISTORY_DAYS)
    spacing = timedelta(days=HISTORY_DAYS - 1) / sessions
    visitor = Visitor.objects.create(
        environment=environment, public_id="vis_StitchBench" + ids.random_base62(16), first_seen_at=first
    )
    session_rows = []
    pageview_rows = []
    event_rows = []
    for number in range(sessions):
        start = first + spacing * number + timedelta(seconds=rng.uniform(0, 3600))
        source, medium, channel, referrer_host = rng.choice(_SOURCES)
        times = [start + timedelta(seconds=sum(rng.uniform(10, 50) for _ in range(i))) for i in range(per_session)]
        paths = [rng.choice(_PATHS) for _ in range(per_session)]
        session = Session(
            environment=environment,
            visitor=visitor,
            public_id=ids.mint("ses"),
            started_at=start,
            last_activity_at=times[-1],
            duration_seconds=int((times[-1] - start).total_seconds()),
            pageview_count=per_session,
            event_count=EVENTS_PER_SESSION,
            first_pageview_at=start,
            last_pageview_at=times[-1],
            entry_path=paths[0],
            exit_path=paths[-1],
            hostname="www.bench-site.example",
            referrer_host=referrer_host,
            source=source,
            medium=medium,
            channel=channel,
            browser="Chrome",
            os="Mac OS X",
            device_type="desktop",
            country="DE",
            region="Bavaria",
            city="Munich",
        )
        session_rows.append(session)
        pageview_rows.append((session, times, paths, source, channel, referrer_host))
    Session.objects.bulk_create(session_rows)

    columns = [
        field.column for field in Pageview._meta.concrete_fields if not field.primary_key and field.column != "user_id"
    ]
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY analytics_pageview ({', '.join(columns)}) FROM STDIN") as copy:
            for session, times, paths, source, channel, referrer_host in pageview_rows:
                for index, (at, path) in enumerate(zip(times, paths, strict=True)):
                    values = {
                        "environment_id": environment.pk,
                        "session_id": session.pk,
                        "visitor_id": visitor.pk,
                        "message_id": f"stitch{session.pk}x{index}",
                        "timestamp": at,
                        "hostname": "www.bench-site.example",
                        "path": path,
                        "title": path.strip("/").capitalize() or "Home",
                        "referrer_host": referrer_host if index == 0 else "www.bench-site.example",
                        "source": source,
                        "channel": channel,
                        "browser": "Chrome",
                        "os": "Mac OS X",
                        "device_type": "desktop",
                        "country": "DE",
                        "region": "Bavaria",
                        "city": "Munich",
                    }
                    copy.write_row([values.get(column, "") for column in columns])
        for session, times, paths, *_ in pageview_rows:
            for index in range(EVENTS_PER_SESSION):
                event_rows.append(
                    Event(
                        environment=environment,
                        public_id=ids.mint("evt"),
                        session=session,
                        visitor=visitor,
                        kind=Event.Kind.BROWSER,
                        name="app.cta_clicked",
                        properties={"location": "hero", "n": index},
                        message_id=f"stitchevt{session.pk}x{index}",
                        timestamp=times[index * 7 % len(times)],
                        hostname="www.bench-site.example",
                        path=paths[0],
                    )
                )
    Event.objects.bulk_create(event_rows, batch_size=1000)
    landing = session_rows[0]
    Attribution.objects.create(
        environment=environment,
        kind=Attribution.Kind.FIRST_TOUCH,
        visitor=visitor,
        session=landing,
        channel=landing.channel,
        source=landing.source,
        medium=landing.medium,
        landing_page=landing.entry_path,
        at=landing.started_at,
    )
    last = session_rows[-1]
    Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=last.last_activity_at)
    user = EndUser.objects.create(
        environment=environment,
        email=f"stitch-{visitor.public_id[-8:].lower()}@bench.example",
        name="Stitch Bench",
        password=make_password(None),
        created_at=last.started_at + timedelta(minutes=5),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_pageview, analytics_session, analytics_event, analytics_visitor")
    return visitor, user


if __name__ == "__main__":
    sys.exit(main())
