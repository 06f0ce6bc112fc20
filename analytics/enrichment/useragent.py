"""Browser, OS, device type and bot flag from a User-Agent string.

Choices:

- Names are ua-parser's (uap-core) families as they come ("Chrome", "Chrome Mobile",
  "Mobile Safari", "Mac OS X", "Ubuntu"…); its catch-all "Other" becomes "".
- Bots are ua-parser's `Spider` device family plus every pattern of the
  crawler-user-agents list (search engines, AI crawlers, HTTP libraries such as curl and
  python-requests, uptime monitors), except `HeadlessChrome`: the SDK's own browser tests
  drive headless Chromium, and losing them costs more than the headless scrapers that
  already skip the JS snippet.
- An empty User-Agent is a bot: every browser sends one, scripts often do not.
- iPadOS Safari presents itself as a Mac by default, so those iPads count as desktops.
"""

import functools
import re
from dataclasses import dataclass

import ua_parser_rs
from crawleruseragents import CRAWLER_USER_AGENTS_DATA
from ua_parser import Parser, load_lazy_builtins
from ua_parser.regex import Resolver

# Longer strings are not browsers; the cut also bounds the memory the cache can hold.
MAX_USER_AGENT_LENGTH = 1024
CACHE_SIZE = 4096

_ALLOWED_AUTOMATION = frozenset({"HeadlessChrome"})
_TABLET_FAMILIES = frozenset({"iPad", "Kindle", "Generic Tablet"})
_PHONE_FAMILIES = frozenset({"iPhone", "iPod", "Generic Smartphone"})
# Android TVs and sticks leave out "Mobile" like tablets do.
_TV = re.compile(r"TV\b|CrKey|\bAFT[A-Z]")


@dataclass(frozen=True)
class Device:
    browser: str
    os: str
    device_type: str  # "desktop" | "mobile" | "tablet"
    is_bot: bool


EMPTY_USER_AGENT_DEVICE = Device(browser="", os="", device_type="desktop", is_bot=True)


def device_from_user_agent(user_agent: str) -> Device:
    """The device behind a User-Agent; repeated strings are answered from a cache."""
    return _device_for(user_agent.strip()[:MAX_USER_AGENT_LENGTH])


@functools.lru_cache(maxsize=CACHE_SIZE)
def _device_for(user_agent: str) -> Device:
    if not user_agent:
        return EMPTY_USER_AGENT_DEVICE
    result = _parser().parse(user_agent)
    device_family = result.device.family if result.device else ""
    device_brand = (result.device.brand or "") if result.device else ""
    os_name = _known(result.os.family if result.os else "")
    return Device(
        browser=_known(result.user_agent.family if result.user_agent else ""),
        os=os_name,
        device_type=_device_type(user_agent, device_family, device_brand, os_name),
        is_bot=device_family == "Spider" or _is_listed_crawler(user_agent),
    )


def _known(family: str) -> str:
    return "" if family == "Other" else family


def _device_type(user_agent: str, family: str, brand: str, os_name: str) -> str:
    # Tablets first: iPad and Kindle strings also carry "Mobile".
    if family in _TABLET_FAMILIES:
        return "tablet"
    # "Mobi" is the token browsers reserve for phones (MDN's advice for sniffing).
    if family in _PHONE_FAMILIES or "Mobi" in user_agent:
        return "mobile"
    # Android without "Mobile" is a tablet by Google's own convention (ua-parser's
    # Generic_Android_Tablet brand says the same), unless it is a TV.
    if (os_name == "Android" or brand == "Generic_Android_Tablet") and not _TV.search(user_agent):
        return "tablet"
    return "desktop"


def _is_listed_crawler(user_agent: str) -> bool:
    return _crawler_matcher().extract(user_agent) is not None


@functools.cache
def _parser() -> Parser:
    # No cache of the parser's own: `_device_for` caches the finished answer already.
    return Parser(Resolver(load_lazy_builtins()))


@functools.cache
def _crawler_matcher() -> ua_parser_rs.DeviceExtractor:
    # Python's `re` tries 1,500 alternatives at every offset (~0.4 ms per string); the Rust
    # regex set behind ua-parser's device extractor answers the same question in ~1 µs.
    patterns = (item["pattern"] for item in CRAWLER_USER_AGENTS_DATA)
    return ua_parser_rs.DeviceExtractor(
        [(pattern, None, "crawler", None, None) for pattern in patterns if pattern not in _ALLOWED_AUTOMATION]
    )
