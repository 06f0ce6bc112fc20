"""Realistic browser traffic for `POST /v1/analytics/collect`, generated ahead of time.

Each simulated visitor has one browser (user agent, screen, locale, time zone), a home
IP address from a pool of public IPv4/IPv6 addresses that the GeoLite2 database places,
and a history of sessions spread over the last six days: a landing pageview with its
referrer (search, social, AI assistant, Hacker News, none…), UTM parameters on about a
fifth of landings and an ad click ID now and then, further same-site pageviews, and a
few `app.*` events. The SDK sends a session's items in batches of 1 to 10.

Two batch mixes (`build(batch_mix=…)`):

- `realistic`: a request's size is drawn from `_BATCH_SIZES` (mostly a few) and capped
  by what is left of the current session, so a request holds one session's items and
  requests carry about 2.2 items on average;
- `uniform`: a request's size is drawn uniformly from 1..10 and filled with the
  visitor's next items in time order, across session boundaries, as an SDK does when
  it flushes a backlog kept while offline, or a busy single-page app between flushes.
  About 5.5 items a request; a request can hold the end of one session and the start
  of the next (the items keep their own timestamps, so the server still sessionises
  them by the 30-minute gap). The visitor's sessions are made first, as many as the
  drawn sizes need, then placed in the same six days with random gaps.

Item timestamps are in the simulated past; `sentAt` is filled in at send time with
the real clock, so the server's skew correction (stored = received − (sentAt −
timestamp)) stores each item at its simulated time: sessions continue across
requests and new ones start after the 30-minute gap, as on a live site.

The send order is that of a live site: visitors arrive at random points of the
run and send their requests in order, about VISIT_SPACING requests of other
visitors apart, so two of one visitor's requests are never in flight at once and
a run cut short by its deadline still holds whole visitor histories, with many
visitors active side by side.

A request is a `Prepared` tuple; the body is `head + sentAt + tail` so the load
generator only concatenates bytes.
"""

import ipaddress
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from .config import SITE_ORIGIN

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SENT_AT_MARK = "\x01SENT_AT\x01"
_SENT_AT_JSON = json.dumps(SENT_AT_MARK).encode()
_EPOCH = datetime(1970, 1, 1)

DAY = 86_400.0
HISTORY_SECONDS = 6 * DAY  # browser items older than 7 days are rejected
SESSION_GAP_MIN = 35 * 60.0  # longer than the default 30-minute session timeout
VISIT_SPACING = 320  # requests of others between two of one visitor's (≫ connections in flight)
SESSIONS_PER_VISITOR_MAX = 100_000  # spacing of the session numbers of two visitors
BATCH_MIXES = ("realistic", "uniform")
UNIFORM_BATCH_MAX = 10  # uniform mix: sizes 1..10, about 5.5 items a request


class Prepared(NamedTuple):
    headers: tuple[tuple[str, str], ...]  # without the env key: the sender adds it
    head: bytes  # the body up to the opening quote of sentAt's value
    tail: bytes  # the body from the closing quote of sentAt's value
    items: int
    bot: bool
    # Which simulated visitor and session the items belong to, so the load generator
    # can say how many visitors and sessions the answered requests should have made.
    visitor: int = -1
    session: int = -1
    # The items belong to sessions session, session + 1, …, session + sessions - 1
    # (more than one only in the uniform batch mix).
    sessions: int = 1


def body_with_sent_at(prepared: Prepared, sent_at: bytes) -> bytes:
    return prepared.head + sent_at + prepared.tail


def sent_at_now() -> bytes:
    now = time.time()
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z").encode()


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"


# --- Browsers -------------------------------------------------------------------------

_CHROME = ["128.0.0.0", "129.0.0.0", "130.0.0.0", "131.0.0.0"]
_FIREFOX = ["131.0", "132.0", "133.0"]
_SAFARI = ["17.6", "18.0", "18.1"]
_IOS = ["17_6_1", "18_0", "18_1", "18_1_1"]
_ANDROID_PHONES = ["K", "SM-S918B", "SM-A546B", "Pixel 8", "Pixel 7a", "moto g 5G (2023)", "2201117TG"]
_ANDROID_TABLETS = ["SM-X710", "SM-X200", "Lenovo TB-X606F"]
_WINDOWS = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_LINUX = "X11; Linux x86_64"


def _desktop_agents() -> list[tuple[str, float]]:
    agents = []
    for version in _CHROME:
        agents.append(
            (f"Mozilla/5.0 ({_WINDOWS}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version} Safari/537.36", 9)
        )
        agents.append(
            (f"Mozilla/5.0 ({_MAC}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version} Safari/537.36", 5)
        )
        agents.append(
            (f"Mozilla/5.0 ({_LINUX}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version} Safari/537.36", 1)
        )
        edge = version.split(".")[0] + ".0.2903.86"
        agents.append(
            (
                f"Mozilla/5.0 ({_WINDOWS}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version} Safari/537.36 "
                f"Edg/{edge}",
                3,
            )
        )
    for version in _FIREFOX:
        agents.append((f"Mozilla/5.0 ({_WINDOWS}; rv:{version}) Gecko/20100101 Firefox/{version}", 3))
        agents.append(
            (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{version}) Gecko/20100101 Firefox/{version}", 1)
        )
        agents.append((f"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{version}) Gecko/20100101 Firefox/{version}", 1))
    for version in _SAFARI:
        agents.append(
            (f"Mozilla/5.0 ({_MAC}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{version} Safari/605.1.15", 4)
        )
    return agents


def _mobile_agents() -> list[tuple[str, float]]:
    agents = []
    for ios in _IOS:
        short = ".".join(ios.split("_")[:2])
        agents.append(
            (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{short} Mobile/15E148 Safari/604.1",
                10,
            )
        )
        agents.append(
            (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                2,
            )
        )
    for model in _ANDROID_PHONES:
        for version in _CHROME[-2:]:
            agents.append(
                (
                    f"Mozilla/5.0 (Linux; Android 14; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "
                    f"Chrome/{version} Mobile Safari/537.36",
                    3,
                )
            )
    agents.append(
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            3,
        )
    )
    return agents


def _tablet_agents() -> list[tuple[str, float]]:
    agents = []
    for ios in _IOS:
        short = ".".join(ios.split("_")[:2])
        agents.append(
            (
                f"Mozilla/5.0 (iPad; CPU OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{short} Mobile/15E148 Safari/604.1",
                5,
            )
        )
    for model in _ANDROID_TABLETS:
        agents.append(
            (
                f"Mozilla/5.0 (Linux; Android 13; {model}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{_CHROME[-1]} Safari/537.36",
                2,
            )
        )
    return agents


BOT_AGENTS = [
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
]

_DEVICE_KINDS = [("desktop", 55), ("mobile", 37), ("tablet", 6), ("bot", 2)]
_SCREENS = {
    "desktop": [(1920, 1080), (1440, 900), (1536, 864), (2560, 1440), (1366, 768), (1280, 800), (1680, 1050)],
    "mobile": [(390, 844), (393, 852), (412, 915), (360, 800), (430, 932), (375, 667)],
    "tablet": [(820, 1180), (768, 1024), (1024, 1366), (800, 1280)],
    "bot": [(412, 732), (1024, 1024)],
}
_LOCALES = {
    "US": "en-US",
    "GB": "en-GB",
    "CA": "en-CA",
    "AU": "en-AU",
    "IN": "en-IN",
    "DE": "de-DE",
    "AT": "de-AT",
    "CH": "de-CH",
    "FR": "fr-FR",
    "ES": "es-ES",
    "MX": "es-MX",
    "IT": "it-IT",
    "NL": "nl-NL",
    "BR": "pt-BR",
    "PT": "pt-PT",
    "JP": "ja-JP",
    "KR": "ko-KR",
    "CN": "zh-CN",
    "TW": "zh-TW",
    "RU": "ru-RU",
    "PL": "pl-PL",
    "SE": "sv-SE",
    "TR": "tr-TR",
}

# --- Addresses ------------------------------------------------------------------------

# First 16 bits of IPv6 space that regional registries hand out (RIPE, ARIN, APNIC, LACNIC).
_IPV6_PREFIXES = [0x2A00, 0x2A01, 0x2A02, 0x2A03, 0x2600, 0x2601, 0x2602, 0x2603, 0x2604, 0x2605, 0x2607]
_IPV6_PREFIXES += [0x2400, 0x2401, 0x2402, 0x2403, 0x2404, 0x2405, 0x2406, 0x2407, 0x2408, 0x2409, 0x2800, 0x2804]
_POOL_ATTEMPTS = 400_000


@dataclass(frozen=True)
class Address:
    ip: str
    country: str
    time_zone: str


def address_pool(rng: random.Random, *, ipv4: int = 1500, ipv6: int = 500) -> list[Address]:
    """Public addresses the GeoLite2 City database places, so every request runs a real lookup."""
    import maxminddb
    from _maxminddb_geolite2 import geolite2_database

    found: list[Address] = []
    with maxminddb.open_database(geolite2_database()) as reader:
        for want, make in ((ipv4, _random_ipv4), (ipv6, _random_ipv6)):
            got = 0
            for _ in range(_POOL_ATTEMPTS):
                if got >= want:
                    break
                address = make(rng)
                if not address.is_global:
                    continue
                record = reader.get(str(address))
                country = ((record or {}).get("country") or {}).get("iso_code")
                if not country:
                    continue
                time_zone = ((record or {}).get("location") or {}).get("time_zone", "")
                found.append(Address(ip=str(address), country=country, time_zone=time_zone))
                got += 1
    if not found:
        raise RuntimeError("The GeoLite2 database placed none of the sampled addresses.")
    return found


def _random_ipv4(rng: random.Random) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(rng.getrandbits(32))


def _random_ipv6(rng: random.Random) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((rng.choice(_IPV6_PREFIXES) << 112) | rng.getrandbits(112))


# --- The site -------------------------------------------------------------------------

_BLOG = [
    "why-sessions-time-out-after-30-minutes",
    "first-touch-vs-last-touch",
    "stitching-anonymous-visitors",
    "ga4-channels-explained",
    "postgres-copy-is-fast",
    "privacy-without-cookie-banners",
    "how-we-count-bots",
    "utm-parameters-done-right",
    "funnels-that-do-not-lie",
    "migrating-from-universal-analytics",
    "server-side-events-in-nextjs",
    "journeys-and-webhooks",
]
PAGES: list[tuple[str, str, float]] = [  # path, title, weight as a landing page
    ("/", "AscendKit — analytics that follow the user", 30),
    ("/pricing", "Pricing — AscendKit", 8),
    ("/features", "Features — AscendKit", 4),
    ("/features/stitching", "Identity stitching — AscendKit", 2),
    ("/features/journeys", "Journeys — AscendKit", 2),
    ("/features/funnels", "Funnels — AscendKit", 2),
    ("/docs", "Documentation — AscendKit", 5),
    ("/docs/getting-started", "Getting started — AscendKit docs", 5),
    ("/docs/sdk/nextjs", "Next.js SDK — AscendKit docs", 4),
    ("/docs/sdk/python", "Python SDK — AscendKit docs", 3),
    ("/docs/api/collect", "POST /v1/analytics/collect — AscendKit docs", 2),
    ("/docs/api/events", "POST /v1/events — AscendKit docs", 2),
    ("/changelog", "Changelog — AscendKit", 1),
    ("/customers", "Customers — AscendKit", 1),
    ("/about", "About — AscendKit", 1),
    ("/contact", "Contact — AscendKit", 0.5),
    ("/signup", "Sign up — AscendKit", 1),
    ("/login", "Log in — AscendKit", 2),
    ("/blog", "Blog — AscendKit", 2),
] + [(f"/blog/{slug}", slug.replace("-", " ").capitalize() + " — AscendKit blog", 2.2) for slug in _BLOG]

_NEXT_PAGES = {  # where people go from a section; anything else: any page
    "/": ["/pricing", "/features", "/docs", "/blog", "/signup", "/docs/getting-started", "/customers"],
    "/pricing": ["/signup", "/features", "/docs", "/contact", "/"],
    "/docs": ["/docs/getting-started", "/docs/sdk/nextjs", "/docs/sdk/python", "/docs/api/collect"],
    "/blog": [f"/blog/{slug}" for slug in _BLOG] + ["/", "/pricing"],
}

_REFERRERS: list[tuple[str | None, float]] = [
    (None, 34),
    ("https://www.google.com/", 24),
    ("https://www.google.de/", 2),
    ("https://www.google.co.uk/", 2),
    ("https://www.bing.com/", 4),
    ("https://duckduckgo.com/", 3),
    ("https://t.co/", 4),
    ("https://www.linkedin.com/", 4),
    ("https://chatgpt.com/", 5),
    ("https://news.ycombinator.com/", 3),
    ("https://news.ycombinator.com/item?id=42193571", 1),
    ("https://github.com/", 2),
    ("https://www.reddit.com/r/django/", 2),
    ("https://l.facebook.com/", 1),
    ("https://dev.to/", 1),
    ("same-site", 3),
]

# UTM sets for the ~20% of tagged landings: query string, a click ID parameter or None, its chance, a referrer.
_CAMPAIGNS: list[tuple[str, str | None, float, str | None, float]] = [
    ("utm_source=newsletter&utm_medium=email&utm_campaign=nov_digest", None, 0, None, 30),
    (
        "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=ascendkit",
        "gclid",
        0.8,
        "https://www.google.com/",
        18,
    ),
    (
        "utm_source=google&utm_medium=cpc&utm_campaign=generic&utm_term=product+analytics",
        "gclid",
        0.8,
        "https://www.google.com/",
        12,
    ),
    ("utm_source=bing&utm_medium=cpc&utm_campaign=generic", "msclkid", 0.9, "https://www.bing.com/", 4),
    (
        "utm_source=linkedin&utm_medium=paid_social&utm_campaign=q4_launch&utm_content=carousel",
        "li_fat_id",
        0.4,
        "https://www.linkedin.com/",
        10,
    ),
    (
        "utm_source=facebook&utm_medium=paid_social&utm_campaign=retargeting",
        "fbclid",
        0.9,
        "https://l.facebook.com/",
        6,
    ),
    ("utm_source=partner_blog&utm_medium=referral&utm_campaign=guest_post", None, 0, "https://dev.to/", 8),
    ("utm_source=producthunt&utm_medium=launch&utm_campaign=ph_2026", None, 0, "https://www.producthunt.com/", 6),
    ("utm_source=twitter&utm_medium=social&utm_campaign=thread", None, 0, "https://t.co/", 6),
]

_EVENTS = [
    ("app.cta_clicked", 30),
    ("app.scroll_depth", 25),
    ("app.code_copied", 12),
    ("app.docs_searched", 10),
    ("app.pricing_toggled", 8),
    ("app.video_played", 6),
    ("app.signup_started", 6),
    ("app.newsletter_subscribed", 3),
]
_SEARCH_WORDS = ["session", "utm", "webhook", "nextjs", "python", "stitch", "funnel", "retention", "api", "bot"]

# How many items the SDK sends at once: mostly a few.
_BATCH_SIZES = [(1, 30), (2, 20), (3, 14), (4, 10), (5, 8), (6, 6), (7, 4), (8, 3), (9, 2.5), (10, 2.5)]


def _weighted(rng: random.Random, pairs: list) -> object:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]


class _Tables:
    """Weighted choices, precomputed once per generator."""

    def __init__(self):
        self.agents = {"desktop": _desktop_agents(), "mobile": _mobile_agents(), "tablet": _tablet_agents()}
        self.landing_pages = [(page, weight) for *page, weight in PAGES]
        self.pages = {path: title for path, title, _ in PAGES}
        self.page_list = list(self.pages)


# --- Visitors and their requests --------------------------------------------------------


@dataclass
class Visitor:
    public_id: str
    kind: str
    user_agent: str
    screen: tuple[int, int]
    locale: str
    time_zone: str
    home: Address
    content_type: str


def _random_id(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(BASE62, k=length))


def _visitor(rng: random.Random, tables: _Tables, pool: list[Address]) -> Visitor:
    kind = _weighted(rng, _DEVICE_KINDS)
    agent = rng.choice(BOT_AGENTS) if kind == "bot" else _weighted(rng, tables.agents[kind])
    home = rng.choice(pool)
    return Visitor(
        public_id="vis_" + _random_id(rng, 24),
        kind=kind,
        user_agent=agent,
        screen=rng.choice(_SCREENS[kind]),
        locale=_LOCALES.get(home.country, "en-US") if rng.random() < 0.85 else "en-US",
        time_zone=home.time_zone,
        home=home,
        # fetch(…, {keepalive: true}) sends JSON; navigator.sendBeacon sends text/plain.
        content_type="application/json" if rng.random() < 0.7 else "text/plain;charset=UTF-8",
    )


def _landing(rng: random.Random, tables: _Tables) -> tuple[str, str, str | None]:
    """The landing page's URL, its title and the referrer."""
    path, title = _weighted(rng, tables.landing_pages)
    url = SITE_ORIGIN + path
    referrer = _weighted(rng, _REFERRERS)
    if referrer == "same-site":  # a tab left open past the session timeout
        referrer = SITE_ORIGIN + rng.choice(tables.page_list)
    roll = rng.random()
    if roll < 0.20:
        query, click_id, click_chance, campaign_referrer, _ = _weighted(
            rng, [(campaign, campaign[-1]) for campaign in _CAMPAIGNS]
        )
        if click_id and rng.random() < click_chance:
            query += f"&{click_id}={_random_id(rng, 32)}"
        url += "?" + query
        referrer = campaign_referrer
    elif roll < 0.23 and referrer and "google." in referrer:
        url += f"?gclid={_random_id(rng, 40)}"  # Google Ads auto-tagging without UTM
    elif roll < 0.25 and referrer and "facebook" in referrer:
        url += f"?fbclid={_random_id(rng, 60)}"
    elif roll < 0.27:
        url += rng.choice(["#pricing-table", "?ref=nav", "#install", "?lang=en"])
    return url, title, referrer


def _next_page(rng: random.Random, tables: _Tables, path: str) -> str:
    section = "/" + path.strip("/").split("/")[0] if path != "/" else "/"
    options = _NEXT_PAGES.get(path) or _NEXT_PAGES.get(section)
    if options and rng.random() < 0.75:
        return rng.choice(options)
    return rng.choice(tables.page_list)


def _event(rng: random.Random, name: str, path: str) -> dict:
    if name == "app.cta_clicked":
        return {"location": rng.choice(["hero", "nav", "footer", "pricing_table"]), "label": "Start free"}
    if name == "app.scroll_depth":
        return {"percent": rng.choice([25, 50, 75, 100])}
    if name == "app.code_copied":
        return {"language": rng.choice(["python", "typescript", "bash"]), "snippet": rng.choice(["install", "init"])}
    if name == "app.docs_searched":
        return {"query": " ".join(rng.sample(_SEARCH_WORDS, rng.randint(1, 3))), "results": rng.randint(0, 40)}
    if name == "app.pricing_toggled":
        return {"period": rng.choice(["monthly", "annual"])}
    if name == "app.video_played":
        return {"video": "product-tour", "seconds": rng.randint(3, 240), "page": path}
    if name == "app.signup_started":
        return {"plan": rng.choice(["free", "pro", "team"])}
    return {"list": "product-updates"}


def _session_items(rng: random.Random, tables: _Tables, start: float) -> tuple[list[dict], float]:
    """One session's items in time order, and the time of the last one."""
    pageviews = min(40, 1 + int(rng.expovariate(1 / 2.8)))
    url, title, referrer = _landing(rng, tables)
    path = url[len(SITE_ORIGIN) :].split("?")[0].split("#")[0]
    at = start
    items: list[dict] = []
    for number in range(pageviews):
        if number:
            at += rng.lognormvariate(3.3, 1.0)  # ~27 s median between pages, a long tail
            previous_url = url
            path = _next_page(rng, tables, path)
            url, title, referrer = SITE_ORIGIN + path, tables.pages[path], previous_url
        item = {"type": "pageview", "messageId": _random_id(rng, 21), "timestamp": _iso(at), "url": url}
        if referrer:
            item["referrer"] = referrer
        item["title"] = title
        items.append(item)
        while rng.random() < 0.28:  # ~0.4 events per pageview
            at += rng.uniform(1, 20)
            name = _weighted(rng, _EVENTS)
            items.append(
                {
                    "type": "track",
                    "messageId": _random_id(rng, 21),
                    "timestamp": _iso(at),
                    "name": name,
                    "properties": _event(rng, name, path),
                    "url": url,
                }
            )
    return items, at


def _prepare(
    visitor: Visitor, address: Address, items: list[dict], *, number: int, session: int, sessions: int = 1
) -> Prepared:
    body = {
        "visitorId": visitor.public_id,
        "sentAt": SENT_AT_MARK,
        "context": {
            "userAgent": visitor.user_agent,
            "locale": visitor.locale,
            "timezone": visitor.time_zone,
            "screen": {"width": visitor.screen[0], "height": visitor.screen[1]},
        },
        "events": items,
    }
    encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    head, tail = encoded.split(_SENT_AT_JSON)
    headers = (
        ("Content-Type", visitor.content_type),
        ("User-Agent", visitor.user_agent),
        ("Origin", SITE_ORIGIN),
        ("X-Forwarded-For", address.ip),
    )
    return Prepared(
        headers=headers,
        head=head + b'"',
        tail=b'"' + tail,
        items=len(items),
        bot=visitor.kind == "bot",
        visitor=number,
        session=session,
        sessions=sessions,
    )


def _visitor_requests(
    rng: random.Random,
    tables: _Tables,
    visitor: Visitor,
    pool: list[Address],
    quota: int,
    now: float,
    number: int,
    batch_mix: str = "realistic",
) -> list[Prepared]:
    if batch_mix == "uniform":
        return _visitor_requests_uniform(rng, tables, visitor, pool, quota, now, number)
    requests: list[Prepared] = []
    session = number * SESSIONS_PER_VISITOR_MAX
    sessions_expected = max(1.0, quota / 2.2)
    mean_gap = max(SESSION_GAP_MIN, (HISTORY_SECONDS - DAY) / sessions_expected)
    at = now - HISTORY_SECONDS + rng.uniform(0, min(DAY, mean_gap))
    end = now - 10 * 60
    address = visitor.home
    while len(requests) < quota and at < end:
        items, last = _session_items(rng, tables, at)
        while items and len(requests) < quota:
            size = _weighted(rng, _BATCH_SIZES)
            batch, items = items[:size], items[size:]
            requests.append(_prepare(visitor, address, batch, number=number, session=session))
        session += 1
        at = last + SESSION_GAP_MIN + rng.expovariate(1 / mean_gap)
        if visitor.kind == "mobile" and rng.random() < 0.3:
            address = rng.choice(pool)  # a phone changes networks between visits
    return requests


def _visitor_requests_uniform(
    rng: random.Random, tables: _Tables, visitor: Visitor, pool: list[Address], quota: int, now: float, number: int
) -> list[Prepared]:
    """`quota` requests of 1..10 items (uniform), filled with the visitor's next items in time order.

    The sessions are made as in `_visitor_requests` (35 minutes or more apart), as many
    as the drawn sizes need, then placed in the last six days (up to ten minutes ago)
    with random gaps, so every request carries its drawn size. A request does not stop
    at the end of a session: it takes the next session's first items too, and is sent
    from the address of its last item's session (where the device is when it flushes).
    """
    sizes = [rng.randint(1, UNIFORM_BATCH_MAX) for _ in range(quota)]
    sessions: list[tuple[list[dict], float]] = []  # items stamped from 0, the last one's time
    made = 0
    while made < sum(sizes):
        items, last = _session_items(rng, tables, 0.0)
        sessions.append((items, last))
        made += len(items)
    window = HISTORY_SECONDS - 10 * 60
    busy = sum(last for _, last in sessions) + SESSION_GAP_MIN * (len(sessions) - 1)
    while busy > window:  # more sessions than six days hold: the last ones are not sent
        _, last = sessions.pop()
        busy -= last + SESSION_GAP_MIN
    weights = [rng.expovariate(1.0) for _ in range(len(sessions) + 1)]
    spare = (window - busy) / sum(weights)
    at = now - HISTORY_SECONDS
    address = visitor.home
    stream: list[tuple[dict, int, Address]] = []  # (item, its session, its address), in time order
    for index, ((items, last), weight) in enumerate(zip(sessions, weights, strict=False)):
        at += weight * spare
        if index and visitor.kind == "mobile" and rng.random() < 0.3:
            address = rng.choice(pool)  # a phone changes networks between visits
        session = number * SESSIONS_PER_VISITOR_MAX + index
        for item in items:
            item["timestamp"] = _iso(at + _seconds_since_epoch(item["timestamp"]))
            stream.append((item, session, address))
        at += last + SESSION_GAP_MIN

    requests: list[Prepared] = []
    taken = 0
    for size in sizes:
        batch = stream[taken : taken + size]
        if len(batch) < size:
            break
        taken += size
        first, last_session, sent_from = batch[0][1], batch[-1][1], batch[-1][2]
        requests.append(
            _prepare(
                visitor,
                sent_from,
                [item for item, _, _ in batch],
                number=number,
                session=first,
                sessions=last_session - first + 1,
            )
        )
    return requests


def _seconds_since_epoch(stamp: str) -> float:
    """The inverse of `_iso`, to the millisecond."""
    return (datetime.fromisoformat(stamp[:-1]) - _EPOCH).total_seconds()


def build(
    *, seed: int, visitors: int, requests: int, now: float | None = None, batch_mix: str = "realistic"
) -> list[Prepared]:
    """About `requests` requests from `visitors` visitors, in send order.

    `batch_mix` is how items are put into requests: `realistic` (one session's items,
    mostly a few) or `uniform` (1..10, across session boundaries); see the module's doc.
    """
    if batch_mix not in BATCH_MIXES:
        raise ValueError(f"batch_mix must be one of {BATCH_MIXES}, not {batch_mix!r}")
    rng = random.Random(seed)
    tables = _Tables()
    pool = address_pool(random.Random(seed ^ 0x5EED))
    now = time.time() if now is None else now
    people = [_visitor(rng, tables, pool) for _ in range(visitors)]
    # Activity is skewed: most visitors send a few requests, a few send many.
    weights = [min(rng.paretovariate(1.4), 30.0) for _ in people]
    scale = requests / sum(weights)
    ordered: list[tuple[float, Prepared]] = []
    for number, (person, weight) in enumerate(zip(people, weights, strict=True)):
        quota = max(1, round(weight * scale))
        position = rng.uniform(0, requests)  # when this visitor arrives
        for prepared in _visitor_requests(rng, tables, person, pool, quota, now, number, batch_mix):
            ordered.append((position, prepared))
            position += VISIT_SPACING * rng.uniform(0.6, 1.4)
    ordered.sort(key=lambda pair: pair[0])
    return [prepared for _, prepared in ordered]


def describe(prepared: list[Prepared]) -> dict:
    items = sum(request.items for request in prepared)
    bots = sum(1 for request in prepared if request.bot)
    return {
        "requests": len(prepared),
        "items": items,
        "items_per_request": round(items / max(1, len(prepared)), 2),
        "bot_requests_pct": round(100 * bots / max(1, len(prepared)), 1),
        "multi_session_requests_pct": round(
            100 * sum(1 for request in prepared if request.sessions > 1) / max(1, len(prepared)), 1
        ),
        "body_bytes_mean": round(sum(len(r.head) + len(r.tail) + 24 for r in prepared) / max(1, len(prepared))),
    }
