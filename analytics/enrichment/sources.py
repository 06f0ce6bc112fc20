"""Page URLs, referrers, traffic sources and GA4 channels.

Source is `utm_source` when present, else the name of the referring site from
`analytics/data/referrers.json` ("Google", "Twitter", "ChatGPT"…), else the referring
domain. A referrer on the page's own host (ignoring "www.") is no referrer.

referrers.json is built by `manage.py build_referrers` from Matomo's search engine,
social network and AI assistant lists and the project's additions (see
`referrer_lists.py`). A referrer's site is found by its host and path: the most
specific listed host suffix wins (`mail.google.com` over `google.com`), a brand listed
under every top-level domain (`google.*`) matches `google.de` and `google.co.uk`, and
within a host the longest listed path prefix wins (`bing.com/images/search` is Bing
Images). The answer for a host is cached, so the hot path pays one dict probe per
label only for hosts it has not seen lately.

Medium is `utm_medium` when present. Without it:

- a paid click ID gives "cpc", as the ad network's auto-tagging would: gclid, gbraid and
  wbraid come from Google Ads, msclkid from Microsoft Ads (Bing), ttclid from TikTok,
  li_fat_id from LinkedIn; with no `utm_source` they also name the source;
- fbclid is not paid: Facebook and Instagram add it to every outbound link, ads or not,
  so it only names Facebook as the source when no referrer says otherwise;
- a known site gives its category's medium: search "organic", social "social", webmail
  "email", anything else (video, shopping, AI assistants, named referrers) "referral";
- an unknown referring site gives "referral" when the URL has no UTM at all, and nothing
  when it has some: GA4's "(not set)", which lands in Unassigned. A `utm_source` that
  names a known site (`utm_source=chatgpt.com`, `=facebook`, `=google`) is the exception:
  it takes that site's medium, so the channel is what the untagged click would get.
  GA4 does the same for search, social, video and shopping sites through its source
  lists, but leaves AI assistants and webmail in Unassigned; here they are Referral
  and Email.
- no referrer and no UTM: no source and no medium, the Direct channel.

Channel follows GA4's default channel group, rules tried in GA4's order, first match
wins, case-insensitively: Direct, Cross-network, Paid Shopping, Paid Search, Paid Social,
Paid Video, Display, Paid Other, Organic Shopping, Organic Social, Organic Video, Organic
Search, Referral, Email, Affiliates, Audio, SMS, Mobile Push Notifications, else
Unassigned. GA4's source lists are replaced by the categories of the referrer file;
GA4 has no AI category, so AI assistants are plain referrals.
"""

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, urlsplit

MAX_PATH_LENGTH = 2048
MAX_UTM_LENGTH = 200
UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Ad clicks first: a link can carry several, and a paid click says more than a share.
CLICK_ID_PARAMETERS = ("gclid", "gbraid", "wbraid", "msclkid", "ttclid", "li_fat_id", "fbclid")
_CLICK_ID_SOURCES = {
    "gclid": "Google",
    "gbraid": "Google",
    "wbraid": "Google",
    "msclkid": "Bing",
    "ttclid": "TikTok",
    "li_fat_id": "LinkedIn",
    "fbclid": "Facebook",
}
_UNPAID_CLICK_IDS = frozenset({"fbclid"})

REFERRERS_FILE = Path(__file__).resolve().parent.parent / "data" / "referrers.json"
CATEGORIES = frozenset({"search", "social", "video", "email", "shopping", "ai", "referral"})
_CATEGORY_MEDIUMS = {"search": "organic", "social": "social", "email": "email"}
# Country-code suffixes under which a brand's domain sits one level down: google.co.uk.
_SECOND_LEVEL_LABELS = frozenset({"co", "com", "net", "org", "ac", "ne", "or", "gov", "edu", "gob"})
_BRAND_WILDCARD = ".*"
_HOST_CACHE_SIZE = 4096
_MAX_HOST_LENGTH = 253
_WEB_SCHEMES = frozenset({"http", "https"})
_ANDROID_APP = "android-app://"
_BAD_HOST_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f\\\"<>{}|^`%]")


@dataclass(frozen=True)
class PageUrl:
    hostname: str
    path: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    click_id: str  # the parameter's name ("gclid"…), never its value

    @property
    def has_utm(self) -> bool:
        return any((self.utm_source, self.utm_medium, self.utm_campaign, self.utm_term, self.utm_content))


@dataclass(frozen=True)
class Site:
    name: str
    category: str


@dataclass(frozen=True)
class Traffic:
    referrer_host: str
    referrer_path: str
    referring_domain: str
    source: str
    medium: str
    channel: str


@functools.lru_cache(maxsize=8192)
def parse_page_url(url: str) -> PageUrl | None:
    """The stored parts of a page URL; None unless it is an absolute http(s) URL.

    Cached: a site's visitors land on the same few URLs, and parsing one costs more
    than the rest of an item's checks together.
    """
    parts = _split_web_url(url)
    hostname = _hostname(parts) if parts else ""
    if not parts or not hostname:
        return None
    params = _first_values(parts.query)
    utm = {name: params.get(name, "")[:MAX_UTM_LENGTH] for name in UTM_PARAMETERS}
    click_id = next((name for name in CLICK_ID_PARAMETERS if params.get(name)), "")
    return PageUrl(hostname=hostname, path=_path(parts), click_id=click_id, **utm)


@functools.lru_cache(maxsize=8192)
def traffic_from(page: PageUrl, referrer: str | None) -> Traffic:
    """Where a pageview came from (SPEC 5): referrer parts, source, medium and channel. Cached, as pure."""
    host, path = _referrer_parts(referrer)
    if host and _without_www(host) == _without_www(page.hostname):
        host, path = "", ""
    domain = _without_www(host)
    source, site = _source(page, host, path, domain)
    medium = _medium(page, site, domain)
    category = site.category if site else ""
    channel = channel_for(source=source, medium=medium, campaign=page.utm_campaign, category=category)
    return Traffic(
        referrer_host=host, referrer_path=path, referring_domain=domain, source=source, medium=medium, channel=channel
    )


def site_for_host(host: str, path: str = "") -> Site | None:
    """The listed site a referrer's host (an Android app's package) and path belong to."""
    # No real hostname is longer; the cut keeps the labels that can match and bounds the cache.
    for prefix, site in _rules_for_host(host[-_MAX_HOST_LENGTH:]):
        if not prefix or _path_is_under(path.lower(), prefix):
            return site
    return None


def site_for_source(source: str) -> Site | None:
    """The listed site a `utm_source` value names, by name, alias or domain."""
    value = source.strip().lower()
    return _referrers().by_name.get(value) or (site_for_host(value) if "." in value else None)


def channel_for(*, source: str, medium: str, campaign: str, category: str) -> str:
    """The GA4 default channel of a source/medium/campaign and the source's category."""
    touch = _Touch(
        source=source.strip().lower(), medium=medium.strip().lower(), campaign=campaign.lower(), category=category
    )
    return next((channel for channel, applies in _CHANNEL_RULES if applies(touch)), "Unassigned")


def _source(page: PageUrl, host: str, path: str, domain: str) -> tuple[str, Site | None]:
    click_source = _CLICK_ID_SOURCES.get(page.click_id, "")
    if page.utm_source:
        return page.utm_source, site_for_source(page.utm_source)
    if click_source and page.click_id not in _UNPAID_CLICK_IDS:
        return click_source, site_for_source(click_source)
    site = site_for_host(host, path) if host else None
    if site:
        return site.name, site
    if domain:
        return domain, None
    if click_source:
        return click_source, site_for_source(click_source)
    return "", None


def _medium(page: PageUrl, site: Site | None, domain: str) -> str:
    if page.utm_medium:
        return page.utm_medium
    if page.click_id and page.click_id not in _UNPAID_CLICK_IDS:
        return "cpc"
    if site:
        return _CATEGORY_MEDIUMS.get(site.category, "referral")
    if domain and not page.has_utm:
        return "referral"
    return ""


@dataclass(frozen=True)
class _Touch:
    source: str
    medium: str
    campaign: str
    category: str

    @property
    def paid(self) -> bool:
        return bool(_PAID_MEDIUM.match(self.medium))

    @property
    def shopping(self) -> bool:
        return self.category == "shopping" or bool(_SHOPPING_CAMPAIGN.match(self.campaign))


_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_SHOPPING_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
_DISPLAY_MEDIUMS = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIUMS = frozenset({"social", "social-network", "social-media", "sm", "social network", "social media"})
_REFERRAL_MEDIUMS = frozenset({"referral", "app", "link"})
_EMAIL_VALUES = frozenset({"email", "e-mail", "e_mail", "e mail"})

_CHANNEL_RULES: tuple[tuple[str, Callable[[_Touch], bool]], ...] = (
    ("Direct", lambda t: not t.source and not t.medium),
    ("Cross-network", lambda t: "cross-network" in t.campaign),
    ("Paid Shopping", lambda t: t.paid and t.shopping),
    ("Paid Search", lambda t: t.paid and t.category == "search"),
    ("Paid Social", lambda t: t.paid and t.category == "social"),
    ("Paid Video", lambda t: t.paid and t.category == "video"),
    ("Display", lambda t: t.medium in _DISPLAY_MEDIUMS),
    ("Paid Other", lambda t: t.paid),
    ("Organic Shopping", lambda t: t.shopping),
    ("Organic Social", lambda t: t.category == "social" or t.medium in _SOCIAL_MEDIUMS),
    ("Organic Video", lambda t: t.category == "video" or "video" in t.medium),
    ("Organic Search", lambda t: t.category == "search" or t.medium == "organic"),
    ("Referral", lambda t: t.medium in _REFERRAL_MEDIUMS),
    ("Email", lambda t: t.source in _EMAIL_VALUES or t.medium in _EMAIL_VALUES),
    ("Affiliates", lambda t: t.medium == "affiliate"),
    ("Audio", lambda t: t.medium == "audio"),
    ("SMS", lambda t: t.source == "sms" or t.medium == "sms"),
    (
        "Mobile Push Notifications",
        lambda t: (
            t.medium.endswith("push") or "mobile" in t.medium or "notification" in t.medium or t.source == "firebase"
        ),
    ),
)


def _split_web_url(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # an unbalanced "[" in the host
        return None
    return parts if parts.scheme.lower() in _WEB_SCHEMES else None


def _hostname(parts: SplitResult) -> str:
    try:
        hostname = (parts.hostname or "").rstrip(".")
    except ValueError:
        return ""
    return "" if _BAD_HOST_CHARACTERS.search(hostname) else hostname


def _path(parts: SplitResult) -> str:
    return (parts.path or "/")[:MAX_PATH_LENGTH]


def _first_values(query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in parse_qsl(query):
        values.setdefault(name.lower(), value.strip())
    return values


def _referrer_parts(referrer: str | None) -> tuple[str, str]:
    if not referrer:
        return "", ""
    if referrer[: len(_ANDROID_APP)].lower() == _ANDROID_APP:  # Android apps send their package name
        package = referrer[len(_ANDROID_APP) :].partition("/")[0].lower()
        return (package, "") if package and not _BAD_HOST_CHARACTERS.search(package) else ("", "")
    parts = _split_web_url(referrer)
    hostname = _hostname(parts) if parts else ""
    return (hostname, _path(parts)) if parts and hostname else ("", "")


def _without_www(host: str) -> str:
    return host.removeprefix("www.")


@dataclass(frozen=True)
class _Referrers:
    hosts: dict[str, tuple[tuple[str, Site], ...]]  # key → (path prefix, site), longest prefix first
    by_name: dict[str, Site]  # lower-case name or alias → site
    max_labels: int  # the most labels a host needs to match any key


@functools.cache
def _referrers() -> _Referrers:
    """The referrer file, read at the first lookup of the process."""
    return _load_referrers(REFERRERS_FILE)


@functools.lru_cache(maxsize=_HOST_CACHE_SIZE)
def _rules_for_host(host: str) -> tuple[tuple[str, Site], ...]:
    """The path rules that apply to a host, most specific key first."""
    referrers = _referrers()
    hosts = referrers.hosts
    # Only the last labels can match a key: a hostile hostname costs no more than a real one.
    labels = host.lower().rstrip(".").split(".")[-referrers.max_labels :]
    brand_end = len(labels) - _top_level_labels(labels)
    rules: list[tuple[str, Site]] = []
    for start in range(len(labels)):
        rules.extend(hosts.get(".".join(labels[start:]), ()))
        if start < brand_end:
            rules.extend(hosts.get(".".join(labels[start:brand_end]) + _BRAND_WILDCARD, ()))
    return tuple(rules)


def _top_level_labels(labels: list[str]) -> int:
    """1 for google.de, 2 for google.co.uk and google.com.br."""
    country_second_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_LABELS
    return 2 if country_second_level else 1


def _path_is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _load_referrers(path: Path) -> _Referrers:
    data = json.loads(path.read_text(encoding="utf-8"))
    sites = {name: Site(name=name, category=category) for name, category in data["sites"].items()}
    for site in sites.values():
        if site.category not in CATEGORIES:
            raise ValueError(f"{path.name}: {site.name} has an unknown category {site.category!r}")
    by_name = {name.lower(): site for name, site in sites.items()}
    for alias, name in data["aliases"].items():
        if by_name.setdefault(alias, sites[name]) != sites[name]:
            raise ValueError(f"{path.name}: {alias!r} names both {by_name[alias]} and {sites[name]}")
    hosts = {
        key: tuple(sorted(((prefix, sites[name]) for prefix, name in rules.items()), key=lambda rule: -len(rule[0])))
        for key, rules in data["hosts"].items()
    }
    # A brand key (google.*) stands for its labels plus up to two of a top-level domain.
    max_labels = max(key.count(".") + (2 if key.endswith(_BRAND_WILDCARD) else 1) for key in hosts)
    return _Referrers(hosts=hosts, by_name=by_name, max_labels=max_labels)
