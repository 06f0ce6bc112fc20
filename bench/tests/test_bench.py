"""The bench's traffic, floor and wrk files match what the code accepts, so the bench cannot rot."""

import json
import statistics
from argparse import Namespace
from pathlib import Path

import pytest
from django.test import Client, RequestFactory

from bench import floor, ingest, run, traffic


def test_a_request_is_one_visitors_batch_of_one_to_ten_items_five_and_a_half_on_average():
    requests = traffic.build(requests=3000, mix="1-10", seed=5)
    bodies = [json.loads(request.body) for request in requests]
    sizes = [len(body["events"]) for body in bodies]
    assert sizes == [request.items for request in requests]
    assert set(sizes) == set(range(1, 11))
    assert 5.3 < statistics.mean(sizes) < 5.7
    assert all(body["visitorId"].startswith("vis_") and body["context"]["userAgent"] for body in bodies)


def test_the_sdk_mix_sends_one_to_three_items():
    sizes = [request.items for request in traffic.build(requests=2000, mix="1-3", seed=5)]
    assert set(sizes) == {1, 2, 3}
    assert 1.9 < statistics.mean(sizes) < 2.1


def test_no_visitor_has_two_requests_among_the_connections_in_flight():
    requests = traffic.build(requests=3000, seed=6)
    visitors = [json.loads(request.body)["visitorId"] for request in requests]
    assert all(len(set(visitors[start : start + 32])) == 32 for start in range(len(visitors) - 32))
    assert len(set(visitors)) < len(visitors) / 2  # visitors return


def test_the_timed_and_the_warm_up_traffic_share_no_message_id():
    ids = [
        item["messageId"]
        for seed in (11, 12)
        for request in traffic.build(requests=2000, seed=seed)
        for item in json.loads(request.body)["events"]
    ]
    assert len(ids) == len(set(ids))


def test_the_traffic_has_referrers_utm_bots_beacons_and_public_client_addresses():
    requests = traffic.build(requests=2000, seed=7)
    items = [item for request in requests for item in json.loads(request.body)["events"]]
    assert any("utm_source=" in item.get("url", "") for item in items)
    assert any(item.get("referrer", "").startswith("https://www.google.") for item in items)
    assert any(item["type"] == "track" for item in items)
    assert 0.005 < sum(request.bot for request in requests) / len(requests) < 0.05
    assert {request.headers["Content-Type"] for request in requests} == {"application/json", "text/plain;charset=UTF-8"}
    assert any(":" in request.headers["X-Forwarded-For"] for request in requests)


@pytest.mark.django_db
def test_the_collect_endpoint_accepts_every_item_of_the_traffic(tenant, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(REMOTE_ADDR="127.0.0.1")
    for request in traffic.build(requests=80, seed=8):
        response = client.post(
            "/v1/analytics/collect",
            data=request.body,
            content_type=request.headers["Content-Type"],
            HTTP_USER_AGENT=request.headers["User-Agent"],
            HTTP_ORIGIN=request.headers["Origin"],
            HTTP_X_FORWARDED_FOR=request.headers["X-Forwarded-For"],
            HTTP_X_ASCENDKIT_ENV_KEY=tenant.env_key,
        )
        assert response.status_code == 202, response.content
        answer = response.json()
        assert (answer["accepted"], answer["rejected"]) == (0 if request.bot else request.items, [])


def test_the_floor_parses_the_body_and_answers_202_with_the_items_counted():
    request = traffic.build(requests=1, seed=9)[0]
    response = floor.collect(RequestFactory().post("/v1/analytics/collect", request.body, content_type="text/plain"))
    assert response.status_code == 202
    assert json.loads(response.content)["accepted"] == request.items
    assert floor.collect(RequestFactory().post("/", b"{", content_type="text/plain")).status_code == 400


def test_the_wrk_files_hold_each_request_once_in_the_fields_the_lua_script_reads(tmp_path):
    requests = traffic.build(requests=101, seed=10)
    bench = run.Bench(Namespace())
    bench.workdir = tmp_path
    prefix = bench.requests_file(requests)
    lines = [line for thread in (0, 1) for line in Path(f"{prefix}.{thread}").read_bytes().splitlines()]
    assert len(lines) == len(requests)
    for line in lines:
        items, kind, agent, address, body = line.decode().split("\t")
        assert len(json.loads(body)["events"]) == int(items)
        assert kind.startswith(("application/json", "text/plain")) and agent and address
    assert all(name in (run.ROOT / "bench" / "collect.lua").read_text() for name in ("X-AscendKit-Env-Key", "Origin"))


def test_the_harness_runs_the_modules_there_and_skips_the_others():
    assert run.load("ingest") is ingest
    assert run.load("not_a_module") is None
    assert "reports" in run.MODULES
