"""Exact numbers of the hand-made traffic set (see `TrafficSet`), the same in the portal and the Stats API."""

import pytest

from .html import kpis, rows, text

WEEK = "period=7d"


@pytest.fixture
def owner(personas, traffic):
    return personas.client_for(personas.owner)


@pytest.fixture
def api(personas, traffic):
    """The Stats API as a server calls it, with the environment's secret key."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {personas.secret_key}")

    def get(report: str, **params):
        response = client.get(f"/v1/stats/{report}", params)
        assert response.status_code == 200, response.content
        return response.json()

    return get


def _page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_dashboard_prints_the_weeks_figures_against_the_week_before(personas, owner):
    figures = kpis(_page(owner, personas.url(f"?{WEEK}")))
    assert figures == {
        "visitors": ("3", "+200%", "1"),
        "sessions": ("4", "+300%", "1"),
        "pageviews": ("7", "+600%", "1"),
        "views_per_session": ("1.75", "+75%", "1.00"),
        "bounce_rate": ("50.0%", "−50.0 pp", "100.0%"),
        "visit_duration": ("1m 38s", "+100%", "0s"),
        "signups": ("1", "+100%", "0"),
        "conversion_rate": ("33.3%", "+33.3 pp", "0.0%"),
    }


def test_the_dashboard_figures_are_the_stats_apis(personas, owner, api):
    answer = api("aggregate", period="7d", compare="previous_period")["results"]
    figures = {name: (metric["value"], metric["previous"], metric["change"]) for name, metric in answer.items()}
    assert figures == {
        "visitors": (3, 1, 200),
        "sessions": (4, 1, 300),
        "pageviews": (7, 1, 600),
        "views_per_session": (1.75, 1.0, 75),
        "bounce_rate": (50.0, 100.0, -50.0),
        "visit_duration": (98, 0, 100),
        "signups": (1, 0, 100),
        "conversion_rate": (33.3, 0.0, 33.3),
        "events": (1, 0, 100),
    }
    printed = kpis(_page(owner, personas.url(f"?{WEEK}")))
    assert printed["visitors"][0] == str(answer["visitors"]["value"])
    assert printed["views_per_session"][0] == f"{answer['views_per_session']['value']:.2f}"
    assert printed["bounce_rate"][0] == f"{answer['bounce_rate']['value']}%"


def test_breakdown_cards_list_the_rows_of_the_api_in_its_order(personas, owner, api):
    html = _page(owner, personas.url(f"?{WEEK}"))
    assert rows(html, "breakdown-channel")[1:] == [
        ["Direct", "2", "2"],
        ["Email", "1", "1"],
        ["Organic Search", "1", "1"],
    ]
    assert rows(html, "breakdown-page")[1:] == [
        ["/pricing", "3", "3"],
        ["/", "2", "2"],
        ["/dashboard", "1", "1"],
        ["/signup", "1", "1"],
    ]
    assert rows(html, "breakdown-country")[1:] == [["DE", "2", "3"], ["US", "1", "1"]]
    assert rows(html, "breakdown-browser")[1:] == [
        ["Chrome", "1", "2"],
        ["Firefox", "1", "1"],
        ["Mobile Safari", "1", "1"],
    ]
    assert rows(html, "breakdown-event")[1:] == [["app.cta_clicked", "1", "1"]]
    channels = api("breakdown", period="7d", property="channel", metrics="visitors,sessions")["results"]
    assert [[r["channel"], str(r["visitors"]), str(r["sessions"])] for r in channels] == rows(
        html, "breakdown-channel"
    )[1:]
    pages = api("breakdown", period="7d", property="page", metrics="visitors,pageviews")["results"]
    assert [[r["page"], str(r["visitors"]), str(r["pageviews"])] for r in pages] == rows(html, "breakdown-page")[1:]


def test_a_tab_shows_another_property_of_its_card(personas, owner):
    html = _page(owner, personas.url(f"?{WEEK}&sources=utm_campaign&locations=city&devices=device"))
    assert rows(html, "breakdown-utm_campaign")[1:] == [["(none)", "2", "3"], ["launch", "1", "1"]]
    assert rows(html, "breakdown-city")[1:] == [["Berlin", "1", "2"], ["Munich", "1", "1"], ["New York", "1", "1"]]
    assert rows(html, "breakdown-device")[1:] == [["desktop", "2", "3"], ["mobile", "1", "1"]]


def test_clicking_a_row_filters_the_whole_dashboard_by_it(personas, owner, api):
    html = _page(owner, personas.url(f"?{WEEK}"))
    link = 'href="?period=7d&amp;filters=channel%3D%3DDirect"'
    assert link in html
    filtered = _page(owner, personas.url("?period=7d&filters=channel%3D%3DDirect"))
    figures = {metric: value for metric, (value, _, _) in kpis(filtered).items()}
    assert figures == {
        "visitors": "2",
        "sessions": "2",
        "pageviews": "3",
        "views_per_session": "1.50",
        "bounce_rate": "50.0%",
        "visit_duration": "45s",
        "signups": "0",
        "conversion_rate": "0.0%",
    }
    assert "channel is Direct" in text(filtered)
    assert rows(filtered, "breakdown-channel")[1:] == [["Direct", "2", "2"]]
    answer = api("aggregate", period="7d", filters="channel==Direct")["results"]
    assert (answer["visitors"], answer["pageviews"], answer["visit_duration"]) == (2, 3, 45)


def test_the_chart_data_is_the_timeseries_of_the_api(personas, owner, api):
    import json
    import re

    html = _page(owner, personas.url(f"?{WEEK}"))
    data = json.loads(re.search(r'<script id="timeseries-data" type="application/json">(.*?)</script>', html).group(1))
    series = api("timeseries", period="7d", metrics="visitors,pageviews")["results"]
    assert data["rows"] == series
    assert [(row["date"], row["visitors"], row["pageviews"]) for row in series][-3:] == [
        ("2026-11-27", 1, 3),
        ("2026-11-28", 2, 3),
        ("2026-11-29", 1, 1),
    ]


def test_live_visitors_count_the_last_five_minutes(personas, owner):
    assert "1 current visitor" in text(_page(owner, personas.url()))


def test_conversion_paths_show_first_touch_channels_and_the_sequence_to_signup(personas, owner, api):
    html = _page(owner, personas.url(f"conversions/?{WEEK}"))
    assert rows(html, "conversion-channels")[1:] == [
        ["Organic Search", "Google", "(none)", "1", "1", "100.0%", "5m 30s", "1"],
        ["Direct", "(none)", "(none)", "1", "0", "0.0%", "–", "–"],
        ["Email", "newsletter", "launch", "1", "0", "0.0%", "–", "–"],
    ]
    assert rows(html, "conversion-sequences") == [["Google → / → /pricing → /signup → signup 1 user"]]
    answer = api("conversion-paths", period="7d")
    assert answer["paths"] == [{"steps": ["Google", "/", "/pricing", "/signup", "signup"], "users": 1}]
    assert answer["channels"][0]["median_time_to_signup"] == 330


def test_page_flows_from_the_entry_pages_with_drop_off(personas, owner, api):
    html = _page(owner, personas.url(f"flows/?{WEEK}"))
    assert rows(html, "flow-table")[1:] == [
        ["1", "/", "2", "/pricing 2", "0"],
        ["1", "/dashboard", "1", "–", "1"],
        ["1", "/pricing", "1", "–", "1"],
        ["2", "/pricing", "2", "/signup 1", "1"],
        ["3", "/signup", "1", "–", "1"],
    ]
    assert html.count('class="dropoff"') == 4
    answer = api("page-flows", period="7d")
    assert {(d["node"], d["visitors"]) for d in answer["dropoffs"]} == {
        ("1:/dashboard", 1),
        ("1:/pricing", 1),
        ("2:/pricing", 1),
        ("3:/signup", 1),
    }


def test_page_flows_from_a_chosen_page(personas, owner):
    html = _page(owner, personas.url(f"flows/?{WEEK}&from=%2Fpricing&steps=3"))
    assert rows(html, "flow-table")[1:] == [
        ["1", "/pricing", "3", "/signup 1", "2"],
        ["2", "/signup", "1", "–", "1"],
    ]


def test_a_funnel_counts_visitors_who_did_each_step_in_order(personas, owner, api):
    html = _page(owner, personas.url(f"funnels/?{WEEK}&step=%2F&step=%2Fpricing&step=%2Fsignup"))
    assert rows(html, "funnel-table")[1:] == [
        ["1. /", "2", "100.0%", "0"],
        ["2. /pricing", "2", "100.0%", "0"],
        ["3. /signup", "1", "50.0%", "1"],
    ]
    answer = api("funnel", period="7d", steps="/,/pricing,/signup")
    assert [(s["visitors"], s["drop_off"]) for s in answer["steps"]] == [(2, 0), (2, 0), (1, 1)]


def test_a_funnel_of_events_and_pages(personas, owner):
    html = _page(owner, personas.url(f"funnels/?{WEEK}&step=%2Fpricing&step=event%3Aapp.cta_clicked"))
    assert rows(html, "funnel-table")[1:] == [
        ["1. /pricing", "3", "100.0%", "0"],
        ["2. event:app.cta_clicked", "1", "33.3%", "2"],
    ]


def test_a_period_in_the_environments_time_zone(personas, owner):
    # In Tokyo (UTC+9) V3's visit at 11:57 UTC falls on the 29th still; V4's on the 20th at 19:00.
    personas.environment.time_zone = "Asia/Tokyo"
    personas.environment.save()
    html = _page(owner, personas.url("?period=custom&date=2026-11-20,2026-11-20"))
    assert kpis(html)["visitors"][0] == "1"
    assert "Asia/Tokyo" in text(html)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("period=fortnight", "fortnight"),
        ("period=custom&date=2026-13-01,2026-13-02", "2026-13-01"),
        ("filters=planet==Mars", "planet"),
    ],
)
def test_a_bad_period_date_or_filter_is_a_400_that_names_it(personas, owner, query, named):
    response = owner.get(personas.url(f"?{query}"))
    assert response.status_code == 400
    assert named in text(response.content.decode())
