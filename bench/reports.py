"""Stats reports at dashboard scale: p50/p95 per report, over 30 days, on the database you point it at.

    DATABASE_URL=postgres://…/db .venv/bin/python bench/reports.py [--env-key env_…] [--runs 30]

Make the data first, e.g. 1,000,000 pageviews over 30 days:

    .venv/bin/python manage.py create_environment Bench Site million --json
    .venv/bin/python manage.py generate_traffic --env-key env_… --visitors 270000 --days 30 --workers 3

Then build the report rollups (`make bench` does), or the reports read the raw rows:

    .venv/bin/python manage.py build_rollups --env-key env_…

Without `--env-key` the environment with the most pageviews is measured. Each report
runs once to warm the cache, then `--runs` times, in turn with the others (so one
report's cache does not flatter the next). Reports are called through the query layer
(what the portal pages call) and, with `--http`, also through the Stats API and the
portal dashboard page, with Django's test client as a logged-in team member (no
network, no gunicorn). "dashboard (all cards)" is every query the portal dashboard
runs, one after the other: the KPI row against the previous period, the chart, the
breakdown cards and live visitors.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascendkit_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from analytics.models import Pageview  # noqa: E402
from analytics.stats import (  # noqa: E402
    ALL_METRICS,
    conversion_paths,
    funnel,
    live_visitors,
    page_flows,
    stats_aggregate,
    stats_breakdown,
    stats_query_parse,
    stats_timeseries,
)
from identity.models import Environment, Membership  # noqa: E402
from identity.services import member_add  # noqa: E402

DASHBOARD_CARDS = [
    "page",
    "entry_page",
    "exit_page",
    "channel",
    "source",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "country",
    "region",
    "city",
    "browser",
    "os",
    "device",
    "event",
]
FUNNEL = ["/", "/pricing", "/signup"]


def reports(environment: Environment) -> dict:
    query = stats_query_parse(environment=environment, params={"period": "30d"})

    def dashboard():
        stats_aggregate(query=query, compare=True)
        stats_timeseries(query=query, metrics=["visitors", "pageviews"])
        for name in DASHBOARD_CARDS:
            metrics = ["visitors", "events"] if name == "event" else ["visitors"]
            stats_breakdown(query=query, property=name, metrics=metrics)
        live_visitors(environment=environment)

    return {
        "aggregate (all metrics)": lambda: stats_aggregate(query=query, metrics=ALL_METRICS),
        "aggregate, compared": lambda: stats_aggregate(query=query, compare=True),
        "timeseries": lambda: stats_timeseries(query=query, metrics=["visitors", "pageviews", "bounce_rate"]),
        "breakdown page": lambda: stats_breakdown(query=query, property="page", metrics=["visitors", "pageviews"]),
        "breakdown channel": lambda: stats_breakdown(query=query, property="channel", metrics=list(ALL_METRICS)),
        "breakdown country": lambda: stats_breakdown(query=query, property="country"),
        "filtered aggregate": lambda: stats_aggregate(
            query=query.with_filter("channel", "Organic Search").with_filter("device", "mobile")
        ),
        "conversion paths": lambda: conversion_paths(query=query),
        "page flows": lambda: page_flows(query=query),
        "page flows from /pricing": lambda: page_flows(query=query, from_page="/pricing"),
        "funnel (3 steps)": lambda: funnel(query=query, steps=FUNNEL),
        "live visitors": lambda: live_visitors(environment=environment),
        "dashboard (all cards)": dashboard,
    }


def http_reports(environment: Environment) -> dict:
    organization = environment.project.organization
    membership = member_add(organization_name=organization.name, email="bench@example.com", role=Membership.Role.VIEWER)
    client = Client(HTTP_HOST="127.0.0.1")  # a host the default ALLOWED_HOSTS serve
    client.force_login(membership.user)
    slugs = f"{organization.slug}/{environment.project.slug}/{environment.slug}"
    common = f"period=30d&environment={slugs}"

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return {
        "API aggregate": lambda: get(f"/v1/stats/aggregate?{common}&compare=previous_period"),
        "API timeseries": lambda: get(f"/v1/stats/timeseries?{common}"),
        "API breakdown page": lambda: get(f"/v1/stats/breakdown?{common}&property=page"),
        "API conversion paths": lambda: get(f"/v1/stats/conversion-paths?{common}"),
        "API page flows": lambda: get(f"/v1/stats/page-flows?{common}"),
        "API funnel": lambda: get(f"/v1/stats/funnel?{common}&steps={','.join(FUNNEL)}"),
        "portal dashboard page": lambda: get(f"/portal/{slugs}/?period=30d"),
    }


def measure(named: dict, runs: int) -> dict:
    for call in named.values():
        call()
    timings = {name: [] for name in named}
    for _ in range(runs):
        for name, call in named.items():
            started = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-key")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--http", action="store_true", help="Also through the Stats API and the portal page.")
    parser.add_argument("--only", help="Only the reports whose name contains this.")
    options = parser.parse_args()

    if options.env_key:
        environment = Environment.objects.select_related("project__organization").get(env_key=options.env_key)
    else:
        busiest = Pageview.objects.values("environment_id").annotate(n=Count("pk")).order_by("-n").first()
        if busiest is None:
            sys.exit("No pageviews: run generate_traffic first (see --help).")
        environment = Environment.objects.select_related("project__organization").get(pk=busiest["environment_id"])
    named = reports(environment)
    if options.http:
        named |= http_reports(environment)
    if options.only:
        named = {name: call for name, call in named.items() if options.only in name}

    pageviews = Pageview.objects.filter(environment=environment).count()
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"{environment} on {engine}: {pageviews:,} pageviews; period 30d; {options.runs} runs per report")
    timings = measure(named, options.runs)
    print(f"{'report':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, values in timings.items():
        print(f"{name:32} {statistics.median(values):8.1f} {percentile(values, 0.95):8.1f} {max(values):8.1f}")


if __name__ == "__main__":
    main()


# `make bench`: a fresh database, traffic made by generate_traffic, then the reports.
# BENCH_REPORT_VISITORS sets the size: the default (20,000 visitors, ~70,000 pageviews)
# takes about a minute; 275,000 makes ~1,000,000 pageviews, the size the targets are
# stated for, in about ten minutes.
VISITORS = int(os.environ.get("BENCH_REPORT_VISITORS", "20000"))


def run(bench) -> dict:
    database = bench.database("reports")
    started = time.perf_counter()
    counts = bench.manage(
        database.name, "generate_traffic", "--env-key", database.env_key, "--visitors", str(VISITORS),
        "--days", "30", "--seed", "1", "--workers", "2",
    ).strip().splitlines()[-1]  # fmt: skip
    generated = time.perf_counter() - started
    bench.say(f"traffic: {counts} in {generated:.0f} s")
    # The generator's writes mark their days; one build here stands for the periodic
    # refresh having caught up (the bench runs no beat).
    started = time.perf_counter()
    bench.manage(database.name, "build_rollups", "--env-key", database.env_key)
    built = time.perf_counter() - started
    bench.say(f"report rollups built in {built:.1f} s")
    bench.manage(database.name, "collectstatic", "--noinput")  # the portal page, as production serves it
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), "--env-key", database.env_key, "--runs", "10", "--http"],
        env=bench.django_env(database.name),
        capture_output=True,
        text=True,
    )
    bench.check("reports ran", done.returncode == 0, done.stderr[-2000:])
    for line in done.stdout.splitlines():
        bench.say(line)
    return {"traffic": counts, "generate_seconds": generated, "rollup_build_seconds": built, "output": done.stdout}
