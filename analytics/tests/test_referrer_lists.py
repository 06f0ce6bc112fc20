import json

import pytest
from django.core.management import CommandError, call_command

from analytics.enrichment.referrer_lists import (
    ReferrerListError,
    referrer_file_build,
    referrer_file_render,
    url_key,
)
from analytics.management.commands import build_referrers


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("google.com", ("google.com", "")),
        ("www.baidu.com", ("baidu.com", "")),
        ("google.{}", ("google.*", "")),
        ("www.yandex.{}", ("yandex.*", "")),
        ("images.google.{}", ("images.google.*", "")),
        ("{}.bing.com", ("bing.com", "")),
        ("images.{}.ask.com", ("ask.com", "")),
        ("{}.bing.com/images/search", ("bing.com", "/images/search")),
        ("google.{}/cse", ("google.*", "/cse")),
        ("apollo.lv/portal/search/", ("apollo.lv", "/portal/search")),
        ("x.com/i/grok", ("x.com", "/i/grok")),
        ("lnkd.in ", ("lnkd.in", "")),
        ("Search.Yahoo.co.JP", ("search.yahoo.co.jp", "")),
        ("android-app://org.telegram.messenger", ("org.telegram.messenger", "")),
        (
            "android-app//com.google.android.googlequicksearchbox/https/www.google.com",
            ("com.google.android.googlequicksearchbox", ""),
        ),
        ("www.com", ("www.com", "")),
    ],
)
def test_it_reads_hosts_as_matomo_writes_them(url, key):
    assert url_key(url) == key


@pytest.mark.parametrize("url", ["", "google..com", "goo{}gle.com", "/path-only"])
def test_it_refuses_what_is_not_a_host(url):
    with pytest.raises(ReferrerListError):
        url_key(url)


def build(**lists):
    return referrer_file_build(
        search_engines=lists.get("search_engines", {}),
        socials=lists.get("socials", {}),
        ai_assistants=lists.get("ai_assistants", {}),
        additions=lists.get("additions", {}),
    )


def test_it_names_hosts_and_paths_by_their_list():
    data = build(
        search_engines={
            "Bing": [{"urls": ["bing.com", "{}.bing.com"], "params": ["q"]}],
            "Bing Images": [{"urls": ["bing.com/images/search"], "params": ["q"]}],
        },
        socials={"Google%2B": ["plus.google.com"]},
        ai_assistants={"Grok": ["x.com/i/grok"]},
    )
    assert data == {
        "sites": {"Bing": "search", "Bing Images": "search", "Google+": "social", "Grok": "ai"},
        "aliases": {},
        "hosts": {
            "bing.com": {"": "Bing", "/images/search": "Bing Images"},
            "plus.google.com": {"": "Google+"},
            "x.com": {"/i/grok": "Grok"},
        },
    }


def test_additions_then_ai_then_social_then_search_win_a_host():
    data = build(
        search_engines={"Facebook": [{"urls": ["www.facebook.com"]}], "Finder": [{"urls": ["shared.example"]}]},
        socials={"Facebook": ["facebook.com"], "Chatter": ["shared.example"]},
        ai_assistants={"Helper": ["shared.example"]},
        additions={"sites": {"Ours": {"category": "referral", "hosts": ["shared.example"]}}},
    )
    assert data["hosts"]["facebook.com"] == {"": "Facebook"}
    assert data["sites"]["Facebook"] == "social"
    assert data["hosts"]["shared.example"] == {"": "Ours"}


def test_a_name_keeps_one_spelling_and_one_category():
    data = build(
        search_engines={"MySpace": [{"urls": ["searchservice.myspace.com"]}]},
        socials={"Myspace": ["myspace.com"]},
    )
    assert data["sites"] == {"Myspace": "social"}
    assert data["hosts"]["searchservice.myspace.com"] == {"": "Myspace"}


def test_additions_add_hosts_aliases_and_categories_to_a_matomo_name():
    data = build(
        socials={"YouTube": ["youtube.com"], "Odnoklassniki": ["odnoklassniki.ru"]},
        additions={
            "sites": {
                "YouTube": {"category": "video", "aliases": ["yt"]},
                "Odnoklassniki": {"hosts": ["ok.ru"]},
            }
        },
    )
    assert data["sites"] == {"Odnoklassniki": "social", "YouTube": "video"}
    assert data["aliases"] == {"yt": "YouTube"}
    assert data["hosts"]["ok.ru"] == {"": "Odnoklassniki"}


def test_excluded_hosts_leave_the_matomo_lists_only():
    data = build(
        search_engines={"Google": [{"urls": ["google.com", "www.cnn.com"]}]},
        additions={"exclude": ["www.cnn.com"]},
    )
    assert "cnn.com" not in data["hosts"]
    assert "google.com" in data["hosts"]


@pytest.mark.parametrize(
    "additions",
    [
        {"sites": {"New Site": {"hosts": ["new.example"]}}},  # no category, not a Matomo name
        {"sites": {"New Site": {"category": "television", "hosts": ["new.example"]}}},
        {"sites": {"Site A": {"category": "social", "hosts": ["a.example"], "aliases": ["bing"]}}},
    ],
)
def test_it_refuses_additions_that_do_not_hold_together(additions):
    with pytest.raises(ReferrerListError):
        build(search_engines={"Bing": [{"urls": ["bing.com"]}]}, additions=additions)


def test_the_rendered_file_is_json_with_one_entry_a_line():
    data = build(search_engines={"Bing": [{"urls": ["bing.com"]}], "Cốc Cốc": [{"urls": ["coccoc.com"]}]})
    text = referrer_file_render(data)
    assert json.loads(text) == data
    assert '    "coccoc.com": {"": "Cốc Cốc"}' in text.splitlines()


def test_the_committed_referrer_file_is_what_its_sources_build():
    call_command("build_referrers", "--check")


def test_the_check_fails_when_the_file_is_stale(monkeypatch, tmp_path):
    stale = tmp_path / "referrers.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(build_referrers, "REFERRERS_FILE", stale)
    with pytest.raises(CommandError, match="out of date"):
        call_command("build_referrers", "--check")
    call_command("build_referrers")
    assert stale.read_text(encoding="utf-8") == build_referrers.build_referrers_text()
    call_command("build_referrers", "--check")
