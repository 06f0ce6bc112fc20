"""The referrer lookup file, built from Matomo's lists and the project's additions.

Inputs, already parsed from YAML (`manage.py build_referrers` reads the files):

- Matomo's `SearchEngines.yml` (name → configurations, each with `urls`), `Socials.yml`
  and `AIAssistants.yml` (name → urls), vendored in `analytics/data/matomo/`;
- `analytics/data/referrer_additions.yml`: `sites` (name → category, hosts, aliases)
  and `exclude` (Matomo hosts to drop).

The output, `analytics/data/referrers.json`, has `sites` (name → category), `aliases`
(lower-case `utm_source` value → name) and `hosts` (key → path prefix → name). A key is
a host suffix (`bing.com`) or a brand under any top-level domain (`google.*`); the path
prefix is "" for the whole host. Matomo's `{}` placeholder becomes that `*` at the end of
a host; in front (`{}.bing.com`) it adds nothing, since every key covers its subdomains.
A leading "www." is dropped, because the lookup ignores it too.

Where two lists claim the same host and path, the additions win, then AI assistants,
then social networks, then search engines: Matomo lists `www.facebook.com` as a search
engine (for Facebook's own search box) and `facebook.com` as a social network, and a
visit from Facebook is social. A name keeps one spelling and one category, taken from
the list that wins: Matomo's "MySpace" search and "Myspace" social network are one site.
Names are the data set's own, percent-decoding aside (`Google%2B` is "Google+").

Matomo's search keyword parameters are not used: the query string of a referrer is
not kept, and browsers no longer send it across sites.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from .sources import CATEGORIES

# Lower wins.
_ADDITIONS, _AI, _SOCIAL, _SEARCH = range(4)
_ANDROID_APP_PREFIXES = ("android-app://", "android-app//")
_WWW = "www"
_WILDCARD = "{}"


@dataclass(frozen=True)
class _Listing:
    priority: int
    name: str
    category: str  # "" when an addition inherits the category of a Matomo name
    url: str


class ReferrerListError(ValueError):
    pass


def referrer_file_build(
    *, search_engines: dict, socials: dict, ai_assistants: dict, additions: dict
) -> dict[str, dict[str, object]]:
    """The content of referrers.json, as a dict ready for `referrer_file_render`."""
    listings = [
        *_matomo_search_listings(search_engines),
        *_matomo_listings(socials, category="social", priority=_SOCIAL),
        *_matomo_listings(ai_assistants, category="ai", priority=_AI),
        *_addition_listings(additions.get("sites") or {}),
    ]
    names = _canonical_names(listings)
    excluded = {url_key(url) for url in additions.get("exclude") or ()}
    hosts = _host_rules(
        (listing for listing in listings if listing.priority == _ADDITIONS or url_key(listing.url) not in excluded),
        names,
    )
    return {
        "sites": dict(sorted(names.values())),
        "aliases": _aliases(additions.get("sites") or {}, names),
        "hosts": {key: dict(sorted(paths.items())) for key, paths in sorted(hosts.items())},
    }


def referrer_file_render(data: dict[str, dict[str, object]]) -> str:
    """JSON with one entry a line, so that a rebuild reads as a short diff."""
    sections = []
    for section, entries in data.items():
        lines = [f"    {_json(key)}: {_json(value)}" for key, value in entries.items()]
        sections.append(f"  {_json(section)}: {{\n" + ",\n".join(lines) + "\n  }")
    return "{\n" + ",\n".join(sections) + "\n}\n"


def url_key(url: str) -> tuple[str, str]:
    """(key, path prefix) of a url as Matomo's lists write it."""
    value = str(url).strip().lower()
    for prefix in _ANDROID_APP_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :].partition("/")[0], ""
    host, slash, path = value.partition("/")
    labels = host.split(".")
    if _WILDCARD in labels[:-1]:  # {}.bing.com: the key covers subdomains already
        last = max(index for index, label in enumerate(labels[:-1]) if label == _WILDCARD)
        labels = labels[last + 1 :]
    if labels[-1] == _WILDCARD:
        labels[-1] = "*"
    if labels[0] == _WWW and len(labels) > 2:
        labels = labels[1:]
    if not all(labels) or any(_WILDCARD in label for label in labels):
        raise ReferrerListError(f"{url!r} is not a host as the lists write them")
    return ".".join(labels), (slash + path).rstrip("/")


def _matomo_search_listings(search_engines: dict) -> Iterator[_Listing]:
    for name, configurations in search_engines.items():
        for configuration in configurations:
            for url in configuration.get("urls") or ():
                yield _Listing(_SEARCH, _decoded(name), "search", url)


def _matomo_listings(entries: dict, *, category: str, priority: int) -> Iterator[_Listing]:
    for name, urls in entries.items():
        for url in urls or ():
            yield _Listing(priority, _decoded(name), category, url)


def _addition_listings(sites: dict) -> Iterator[_Listing]:
    for name, entry in sites.items():
        category = (entry or {}).get("category", "")
        if category and category not in CATEGORIES:
            raise ReferrerListError(f"{name}: unknown category {category!r}")
        # A category without hosts still applies to the Matomo name (YouTube is video).
        for url in (entry or {}).get("hosts") or ("",):
            yield _Listing(_ADDITIONS, str(name), category, url)


def _canonical_names(listings: list[_Listing]) -> dict[str, tuple[str, str]]:
    """Lower-case name → (name, category), from the listing of the highest priority."""
    names: dict[str, tuple[str, str]] = {}
    for listing in sorted(listings, key=lambda listing: listing.priority, reverse=True):
        spelling, category = names.get(listing.name.lower(), (listing.name, ""))
        if listing.priority == _ADDITIONS:
            spelling = spelling if listing.name.lower() in names else listing.name
        else:
            spelling = listing.name
        names[listing.name.lower()] = (spelling, listing.category or category)
    for spelling, category in names.values():
        if not category:
            raise ReferrerListError(f"{spelling}: an addition needs a category unless Matomo lists the name")
    return names


def _host_rules(listings: Iterable[_Listing], names: dict[str, tuple[str, str]]) -> dict[str, dict[str, str]]:
    rules: dict[tuple[str, str], tuple[int, str]] = {}
    for listing in listings:
        if not listing.url:
            continue
        key_and_path = url_key(listing.url)
        name = names[listing.name.lower()][0]
        held = rules.get(key_and_path)
        if held is None or listing.priority < held[0]:
            rules[key_and_path] = (listing.priority, name)
    hosts: dict[str, dict[str, str]] = {}
    for (key, path), (_priority, name) in rules.items():
        hosts.setdefault(key, {})[path] = name
    return hosts


def _aliases(sites: dict, names: dict[str, tuple[str, str]]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, entry in sites.items():
        for alias in (entry or {}).get("aliases") or ():
            alias = str(alias).strip().lower()
            if alias in names or alias in aliases:
                raise ReferrerListError(f"{name}: the alias {alias!r} already names a site")
            aliases[alias] = names[str(name).lower()][0]
    return dict(sorted(aliases.items()))


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _decoded(name: object) -> str:
    return unquote(str(name)).strip()
