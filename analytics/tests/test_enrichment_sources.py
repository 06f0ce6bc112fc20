import json

import pytest

from analytics.enrichment.sources import (
    CATEGORIES,
    MAX_PATH_LENGTH,
    MAX_UTM_LENGTH,
    REFERRERS_FILE,
    PageUrl,
    Site,
    channel_for,
    parse_page_url,
    site_for_host,
    site_for_source,
    traffic_from,
)

PAGE = "https://www.example.com/pricing"


def page(query: str = "") -> PageUrl:
    parsed = parse_page_url(f"{PAGE}?{query}" if query else PAGE)
    assert parsed is not None
    return parsed


# --- page URLs ---------------------------------------------------------------------------


def test_it_keeps_host_path_and_utm_of_a_page_url():
    assert parse_page_url(
        "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=nov"
        "&utm_term=analytics&utm_content=hero&plan=pro#faq"
    ) == PageUrl(
        hostname="example.com",
        path="/pricing",
        utm_source="newsletter",
        utm_medium="email",
        utm_campaign="nov",
        utm_term="analytics",
        utm_content="hero",
        click_id="",
    )


@pytest.mark.parametrize(
    ("url", "hostname", "path"),
    [
        ("https://example.com", "example.com", "/"),
        ("https://example.com?utm_source=x", "example.com", "/"),
        ("http://example.com/a/b/?secret=token#section", "example.com", "/a/b/"),
        ("https://EXAMPLE.com:8443/Docs", "example.com", "/Docs"),
        ("https://user:password@example.com/", "example.com", "/"),
        ("https://example.com./", "example.com", "/"),
        ("https://Bücher.Example/katalog", "bücher.example", "/katalog"),
        ("https://xn--bcher-kva.example/", "xn--bcher-kva.example", "/"),
        ("https://[2001:db8::1]:8080/", "2001:db8::1", "/"),
        ("  https://example.com/padded  ", "example.com", "/padded"),
        ("HTTPS://example.com/upper-scheme", "example.com", "/upper-scheme"),
    ],
)
def test_it_parses_page_urls(url, hostname, path):
    parsed = parse_page_url(url)
    assert (parsed.hostname, parsed.path) == (hostname, path)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/pricing",
        "pricing?utm_source=x",
        "//example.com/scheme-relative",
        "javascript:alert(document.cookie)",
        "data:text/html,<p>hi</p>",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "https://",
        "https:///path-without-host",
        "https://[::1/broken",
        "https://exa mple.com/",
        'https://exa"mple.com/',
    ],
)
def test_it_rejects_what_is_not_an_absolute_web_url(url):
    assert parse_page_url(url) is None


def test_it_cuts_a_long_path():
    parsed = parse_page_url("https://example.com/" + "a" * 5000)
    assert len(parsed.path) == MAX_PATH_LENGTH


def test_it_cuts_long_utm_values_and_takes_the_first_of_repeated_ones():
    parsed = parse_page_url(f"https://example.com/?utm_source={'s' * 500}&utm_medium=email&utm_medium=cpc")
    assert parsed.utm_source == "s" * MAX_UTM_LENGTH
    assert parsed.utm_medium == "email"


def test_it_decodes_utm_values():
    parsed = parse_page_url("https://example.com/?utm_campaign=Black+Friday%202026&UTM_SOURCE=Mail%C3%A9")
    assert (parsed.utm_campaign, parsed.utm_source) == ("Black Friday 2026", "Mailé")


@pytest.mark.parametrize(
    ("query", "click_id"),
    [
        ("gclid=Cj0KCQiA", "gclid"),
        ("gbraid=0AAAAA", "gbraid"),
        ("wbraid=CjkKCQ", "wbraid"),
        ("msclkid=9f8e7d", "msclkid"),
        ("fbclid=IwAR3x", "fbclid"),
        ("ttclid=E.C.P.x", "ttclid"),
        ("li_fat_id=1a2b-3c", "li_fat_id"),
        ("fbclid=IwAR3x&gclid=Cj0KCQiA", "gclid"),
        ("gclid=", ""),
        ("ref=producthunt", ""),
    ],
)
def test_it_keeps_only_the_name_of_a_click_id(query, click_id):
    parsed = page(query)
    assert parsed.click_id == click_id
    assert "Cj0KCQiA" not in repr(parsed)
    assert "IwAR3x" not in repr(parsed)


# --- sources and channels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "referrer", "source", "medium", "channel"),
    [
        # Nothing at all.
        ("", None, "", "", "Direct"),
        ("", "", "", "", "Direct"),
        ("", "https://www.example.com/", "", "", "Direct"),
        ("", "https://example.com/features?x=1", "", "", "Direct"),
        ("", "about:blank", "", "", "Direct"),
        # Search engines.
        ("", "https://www.google.com/", "Google", "organic", "Organic Search"),
        ("", "https://www.google.co.uk/", "Google", "organic", "Organic Search"),
        ("", "https://www.google.de/", "Google", "organic", "Organic Search"),
        ("", "https://www.google.com.br/", "Google", "organic", "Organic Search"),
        ("", "android-app://com.google.android.googlequicksearchbox/", "Google", "organic", "Organic Search"),
        ("", "https://www.bing.com/", "Bing", "organic", "Organic Search"),
        ("", "https://duckduckgo.com/", "DuckDuckGo", "organic", "Organic Search"),
        ("", "https://search.yahoo.com/", "Yahoo!", "organic", "Organic Search"),
        ("", "https://yandex.ru/", "Yandex", "organic", "Organic Search"),
        ("", "https://www.baidu.com/link?url=abc", "Baidu", "organic", "Organic Search"),
        ("", "https://www.ecosia.org/", "Ecosia", "organic", "Organic Search"),
        ("", "https://search.brave.com/", "Brave Search", "organic", "Organic Search"),
        ("", "https://www.startpage.com/", "StartPage", "organic", "Organic Search"),
        ("", "https://www.qwant.com/", "Qwant", "organic", "Organic Search"),
        ("", "https://m.search.naver.com/", "Naver", "organic", "Organic Search"),
        ("", "https://search.seznam.cz/", "Seznam", "organic", "Organic Search"),
        # Social networks.
        ("", "https://t.co/AbCdEf", "Twitter", "social", "Organic Social"),
        ("", "https://x.com/", "Twitter", "social", "Organic Social"),
        ("", "https://twitter.com/", "Twitter", "social", "Organic Social"),
        ("", "https://bsky.app/", "Bluesky", "social", "Organic Social"),
        ("", "https://www.threads.net/", "Threads", "social", "Organic Social"),
        ("", "https://www.threads.com/", "Threads", "social", "Organic Social"),
        ("", "https://www.linkedin.com/", "LinkedIn", "social", "Organic Social"),
        ("", "https://lnkd.in/", "LinkedIn", "social", "Organic Social"),
        ("", "https://www.reddit.com/r/django/", "reddit", "social", "Organic Social"),
        ("", "https://l.facebook.com/", "Facebook", "social", "Organic Social"),
        ("", "https://lm.facebook.com/", "Facebook", "social", "Organic Social"),
        ("", "https://m.facebook.com/", "Facebook", "social", "Organic Social"),
        ("", "https://l.instagram.com/", "instagram", "social", "Organic Social"),
        ("", "https://news.ycombinator.com/", "Hacker News", "social", "Organic Social"),
        ("", "https://mastodon.social/@someone", "Mastodon", "social", "Organic Social"),
        ("", "https://www.tiktok.com/", "TikTok", "social", "Organic Social"),
        ("", "https://www.pinterest.co.uk/", "Pinterest", "social", "Organic Social"),
        # Video.
        ("", "https://www.youtube.com/", "YouTube", "referral", "Organic Video"),
        ("", "https://youtu.be/", "YouTube", "referral", "Organic Video"),
        ("", "https://vimeo.com/", "Vimeo", "referral", "Organic Video"),
        ("", "https://www.twitch.tv/", "Twitch", "referral", "Organic Video"),
        # AI assistants are referrals, as in GA4; Gemini is not Google search.
        ("", "https://chatgpt.com/", "ChatGPT", "referral", "Referral"),
        ("", "https://chat.openai.com/", "ChatGPT", "referral", "Referral"),
        ("", "https://www.perplexity.ai/", "Perplexity", "referral", "Referral"),
        ("", "https://claude.ai/", "Claude", "referral", "Referral"),
        ("", "https://gemini.google.com/", "Gemini", "referral", "Referral"),
        ("", "https://copilot.microsoft.com/", "Copilot", "referral", "Referral"),
        ("utm_source=chatgpt.com", None, "chatgpt.com", "referral", "Referral"),
        # Webmail.
        ("", "https://mail.google.com/", "Gmail", "email", "Email"),
        ("", "android-app://com.google.android.gm/", "Gmail", "email", "Email"),
        ("", "https://outlook.live.com/", "Outlook", "email", "Email"),
        ("", "https://outlook.office.com/", "Outlook", "email", "Email"),
        ("", "https://mail.yahoo.com/", "Yahoo Mail", "email", "Email"),
        ("", "https://mail.proton.me/", "Proton Mail", "email", "Email"),
        # Shopping.
        ("", "https://www.amazon.de/", "Amazon", "referral", "Organic Shopping"),
        ("", "https://www.ebay.co.uk/", "eBay", "referral", "Organic Shopping"),
        # Other sites.
        ("", "https://example.org/blog/post?id=7", "example.org", "referral", "Referral"),
        ("", "https://www.example.org/", "example.org", "referral", "Referral"),
        ("", "https://gitlab.com/org/repo", "GitLab", "referral", "Referral"),
        ("", "https://docs.google.com/document/d/1", "Google Docs", "referral", "Referral"),
        ("", "https://app.example.com/", "app.example.com", "referral", "Referral"),
        # Tagged links.
        ("utm_source=google&utm_medium=cpc", "https://www.google.com/", "google", "cpc", "Paid Search"),
        ("utm_source=bing&utm_medium=ppc", None, "bing", "ppc", "Paid Search"),
        ("utm_source=google&utm_medium=cpm", None, "google", "cpm", "Paid Search"),
        ("utm_source=newsletter&utm_medium=email", None, "newsletter", "email", "Email"),
        ("utm_source=email&utm_medium=newsletter", None, "email", "newsletter", "Email"),
        ("utm_source=mailchimp&utm_medium=e-mail", "https://mail.google.com/", "mailchimp", "e-mail", "Email"),
        ("utm_source=criteo&utm_medium=display", None, "criteo", "display", "Display"),
        ("utm_source=partner&utm_medium=banner", None, "partner", "banner", "Display"),
        ("utm_source=awin&utm_medium=affiliate", None, "awin", "affiliate", "Affiliates"),
        ("utm_source=facebook&utm_medium=social", None, "facebook", "social", "Organic Social"),
        ("utm_source=buffer&utm_medium=social", None, "buffer", "social", "Organic Social"),
        ("utm_source=facebook&utm_medium=paid_social", None, "facebook", "paid_social", "Paid Social"),
        ("utm_source=fb&utm_medium=cpc", None, "fb", "cpc", "Paid Social"),
        ("utm_source=linkedin&utm_medium=paid", None, "linkedin", "paid", "Paid Social"),
        ("utm_source=youtube&utm_medium=cpv", None, "youtube", "cpv", "Paid Video"),
        ("utm_source=amazon&utm_medium=cpc", None, "amazon", "cpc", "Paid Shopping"),
        ("utm_source=google&utm_medium=cpc&utm_campaign=summer-shop", None, "google", "cpc", "Paid Shopping"),
        ("utm_source=partner&utm_medium=cpa", None, "partner", "cpa", "Paid Other"),
        ("utm_source=partner&utm_medium=retargeting", None, "partner", "retargeting", "Paid Other"),
        ("utm_source=google&utm_medium=cpc&utm_campaign=pmax-cross-network", None, "google", "cpc", "Cross-network"),
        ("utm_source=podcast&utm_medium=audio", None, "podcast", "audio", "Audio"),
        ("utm_source=sms&utm_medium=text", None, "sms", "text", "SMS"),
        ("utm_source=firebase&utm_medium=notification", None, "firebase", "notification", "Mobile Push Notifications"),
        ("utm_source=app&utm_medium=web-push", None, "app", "web-push", "Mobile Push Notifications"),
        ("utm_source=partner&utm_medium=referral", None, "partner", "referral", "Referral"),
        ("utm_source=blog&utm_medium=organic", None, "blog", "organic", "Organic Search"),
        ("utm_source=vlog&utm_medium=video", None, "vlog", "video", "Organic Video"),
        # A tag GA4 does not know stays unassigned, whatever the referrer.
        ("utm_source=newsletter", None, "newsletter", "", "Unassigned"),
        ("utm_source=newsletter", "https://www.google.com/", "newsletter", "", "Unassigned"),
        ("utm_source=partner&utm_medium=flyer", None, "partner", "flyer", "Unassigned"),
        # A tag naming a known site counts like that site's referrer.
        ("utm_source=google", None, "google", "organic", "Organic Search"),
        ("utm_source=Facebook", None, "Facebook", "social", "Organic Social"),
        ("utm_source=x", "https://t.co/abc", "x", "social", "Organic Social"),
        # A medium without a source keeps the referrer as the source.
        ("utm_medium=cpc", "https://www.bing.com/", "Bing", "cpc", "Paid Search"),
        ("utm_medium=email", None, "", "email", "Email"),
        # Click IDs without UTM.
        ("gclid=Cj0KCQiA", None, "Google", "cpc", "Paid Search"),
        ("gclid=Cj0KCQiA", "https://www.google.com/", "Google", "cpc", "Paid Search"),
        ("gbraid=0AAAAA", None, "Google", "cpc", "Paid Search"),
        ("wbraid=CjkKCQ", None, "Google", "cpc", "Paid Search"),
        ("msclkid=9f8e7d", "https://www.bing.com/", "Bing", "cpc", "Paid Search"),
        ("ttclid=E.C.P.x", None, "TikTok", "cpc", "Paid Social"),
        ("li_fat_id=1a2b", None, "LinkedIn", "cpc", "Paid Social"),
        ("fbclid=IwAR3x", None, "Facebook", "social", "Organic Social"),
        ("fbclid=IwAR3x", "https://l.facebook.com/", "Facebook", "social", "Organic Social"),
        ("fbclid=IwAR3x", "https://l.instagram.com/", "instagram", "social", "Organic Social"),
        # Click IDs under UTM: the tag decides.
        ("utm_source=facebook&utm_medium=paid_social&fbclid=IwAR3x", None, "facebook", "paid_social", "Paid Social"),
        ("utm_source=google&gclid=Cj0KCQiA", None, "google", "cpc", "Paid Search"),
        ("utm_source=newsletter&utm_medium=email&gclid=Cj0KCQiA", None, "newsletter", "email", "Email"),
    ],
)
def test_it_names_source_medium_and_channel(query, referrer, source, medium, channel):
    traffic = traffic_from(page(query), referrer)
    assert (traffic.source, traffic.medium, traffic.channel) == (source, medium, channel)


def test_it_keeps_the_referrer_host_and_path_without_the_query():
    traffic = traffic_from(page(), "https://WWW.Example.org/blog/post?q=my+private+search#top")
    assert (traffic.referrer_host, traffic.referrer_path, traffic.referring_domain) == (
        "www.example.org",
        "/blog/post",
        "example.org",
    )


def test_it_keeps_the_referrer_of_a_tagged_link():
    traffic = traffic_from(page("utm_source=newsletter"), "https://www.google.com/")
    assert (traffic.referrer_host, traffic.referring_domain) == ("www.google.com", "google.com")


def test_it_forgets_a_same_site_referrer():
    traffic = traffic_from(page(), "https://example.com/features")
    assert (traffic.referrer_host, traffic.referrer_path, traffic.referring_domain) == ("", "", "")


def test_it_cuts_a_long_referrer_path():
    traffic = traffic_from(page(), "https://example.org/" + "a" * 5000)
    assert len(traffic.referrer_path) == MAX_PATH_LENGTH


@pytest.mark.parametrize(
    "referrer", ["not a url", "javascript:void(0)", "https://", "https://[::1/broken", "android-app://"]
)
def test_it_ignores_a_referrer_that_is_not_a_web_address(referrer):
    assert traffic_from(page(), referrer).channel == "Direct"


# --- the referrer file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("google.com", "Google"),
        ("www.google.co.jp", "Google"),
        ("gemini.google.com", "Gemini"),
        ("mail.google.com", "Gmail"),
        ("shopping.google.com", "Google Shopping"),
        ("mail.yahoo.com", "Yahoo Mail"),
        ("uk.search.yahoo.com", "Yahoo!"),
        ("www.amazon.co.uk", "Amazon"),
        ("old.reddit.com", "reddit"),
        ("WWW.LinkedIn.COM.", "LinkedIn"),
    ],
)
def test_it_finds_the_most_specific_listed_site(host, name):
    assert site_for_host(host).name == name


@pytest.mark.parametrize("host", ["example.com", "notgoogle.com", "google.example.com", "co.uk", "localhost", "t.com"])
def test_it_does_not_name_unlisted_hosts(host):
    assert site_for_host(host) is None


def test_it_bounds_the_lookup_of_a_hostile_hostname():
    assert site_for_host("a." * 5000 + "example.com") is None


@pytest.mark.parametrize(
    ("source", "site"),
    [
        ("google", Site("Google", "search")),
        ("Hacker News", Site("Hacker News", "social")),
        ("ig", Site("instagram", "social")),
        ("m.facebook.com", Site("Facebook", "social")),
        ("chatgpt.com", Site("ChatGPT", "ai")),
        ("newsletter", None),
    ],
)
def test_it_names_utm_sources_by_name_alias_or_domain(source, site):
    assert site_for_source(source) == site


def test_the_referrer_file_is_well_formed():
    data = json.loads(REFERRERS_FILE.read_text(encoding="utf-8"))
    assert set(data) == {"sites", "aliases", "hosts"}
    assert len(data["hosts"]) >= 500
    assert set(data["sites"].values()) <= CATEGORIES
    for alias, name in data["aliases"].items():
        assert alias == alias.lower().strip() and name in data["sites"]
    for key, paths in data["hosts"].items():
        assert key == key.lower().strip() and "{" not in key and not key.startswith("www.")
        for prefix, name in paths.items():
            assert prefix == "" or (prefix.startswith("/") and not prefix.endswith("/"))
            assert name in data["sites"]


@pytest.mark.parametrize(
    ("medium", "campaign", "category", "channel"),
    [
        ("CPC", "", "search", "Paid Search"),
        ("Email", "", "", "Email"),
        ("paid-search", "", "", "Paid Other"),
        ("social network", "", "", "Organic Social"),
        ("link", "", "", "Referral"),
        ("app", "", "", "Referral"),
        ("organic", "Shopping Days", "", "Organic Shopping"),
        ("organic", "workshop", "", "Organic Search"),
        ("interstitial", "", "", "Display"),
        ("mobile", "", "", "Mobile Push Notifications"),
        ("podcast", "", "", "Unassigned"),
    ],
)
def test_it_follows_ga4_rules_case_insensitively(medium, campaign, category, channel):
    assert channel_for(source="somewhere", medium=medium, campaign=campaign, category=category) == channel
