import pytest
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from analytics.enrichment.useragent import MAX_USER_AGENT_LENGTH, Device, device_from_user_agent

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
HEADLESS_CHROMIUM = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        pytest.param(CHROME_WINDOWS, Device("Chrome", "Windows", "desktop", False), id="chrome-windows"),
        pytest.param(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15",
            Device("Safari", "Mac OS X", "desktop", False),
            id="safari-macos",
        ),
        pytest.param(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Mobile/15E148 Safari/604.1",
            Device("Mobile Safari", "iOS", "mobile", False),
            id="safari-iphone",
        ),
        pytest.param(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            Device("Chrome Mobile iOS", "iOS", "mobile", False),
            id="chrome-iphone",
        ),
        pytest.param(
            "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.6 Mobile/15E148 Safari/604.1",
            Device("Mobile Safari", "iOS", "tablet", False),
            id="safari-ipad",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
            "Mobile Safari/537.36",
            Device("Chrome Mobile", "Android", "mobile", False),
            id="chrome-android-phone",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.6778.39 Mobile Safari/537.36",
            Device("Chrome Mobile", "Android", "mobile", False),
            id="chrome-pixel",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
            "Safari/537.36",
            Device("Chrome", "Android", "tablet", False),
            id="chrome-android-tablet",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.3.2 "
            "like Chrome/130.0.6723.102 Safari/537.36",
            Device("Amazon Silk", "Android", "tablet", False),
            id="kindle-fire",
        ),
        pytest.param(
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            Device("Firefox", "Linux", "desktop", False),
            id="firefox-linux",
        ),
        pytest.param(
            "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
            Device("Firefox Mobile", "Android", "mobile", False),
            id="firefox-android-phone",
        ),
        pytest.param(
            "Mozilla/5.0 (Android 14; Tablet; rv:133.0) Gecko/133.0 Firefox/133.0",
            Device("Firefox Mobile", "Android", "tablet", False),
            id="firefox-android-tablet",
        ),
        pytest.param(
            CHROME_WINDOWS + " Edg/131.0.0.0",
            Device("Edge", "Windows", "desktop", False),
            id="edge-windows",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            Device("Samsung Internet", "Android", "mobile", False),
            id="samsung-internet-phone",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X810) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/26.0 Chrome/122.0.0.0 Safari/537.36",
            Device("Samsung Internet", "Android", "tablet", False),
            id="samsung-internet-tablet",
        ),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 9; SHIELD Android TV Build/PPR1.180610.011) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            Device("Chrome", "Android", "desktop", False),
            id="android-tv-is-not-a-tablet",
        ),
        pytest.param(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.36.105;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5]",
            Device("Facebook", "iOS", "mobile", False),
            id="facebook-in-app-browser",
        ),
        pytest.param(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
            "Safari/537.36",
            Device("Chrome", "Chrome OS", "desktop", False),
            id="chromebook",
        ),
        pytest.param(HEADLESS_CHROMIUM, Device("HeadlessChrome", "Linux", "desktop", False), id="headless-chromium"),
    ],
)
def test_it_reads_browsers(user_agent, expected):
    assert device_from_user_agent(user_agent) == expected


@pytest.mark.parametrize(
    "user_agent",
    [
        pytest.param("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", id="googlebot"),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            id="googlebot-smartphone",
        ),
        pytest.param("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", id="bingbot"),
        pytest.param(
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
            id="gptbot",
        ),
        pytest.param(
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot",
            id="chatgpt-user",
        ),
        pytest.param(
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
            id="claudebot",
        ),
        pytest.param("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", id="yandexbot"),
        pytest.param(
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", id="facebook-preview"
        ),
        pytest.param("curl/8.5.0", id="curl"),
        pytest.param("python-requests/2.32.3", id="python-requests"),
        pytest.param(
            "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
            id="lighthouse",
        ),
    ],
)
def test_it_flags_bots(user_agent):
    assert device_from_user_agent(user_agent).is_bot


@pytest.mark.parametrize("user_agent", ["", "   "])
def test_it_treats_an_empty_user_agent_as_a_bot(user_agent):
    assert device_from_user_agent(user_agent) == Device("", "", "desktop", True)


def test_it_flags_every_sample_of_the_crawler_list():
    samples = [
        sample
        for item in CRAWLER_USER_AGENTS_DATA
        if item["pattern"] != "HeadlessChrome"
        for sample in item["instances"]
    ]
    missed = [sample for sample in samples if not device_from_user_agent(sample).is_bot]
    assert missed == []


def test_it_lets_headless_chromium_through_although_the_crawler_list_names_it():
    assert any(item["pattern"] == "HeadlessChrome" for item in CRAWLER_USER_AGENTS_DATA)
    assert not device_from_user_agent(HEADLESS_CHROMIUM).is_bot


def test_it_answers_a_repeated_user_agent_from_the_cache():
    assert device_from_user_agent(CHROME_WINDOWS) is device_from_user_agent(CHROME_WINDOWS)


def test_it_reads_only_the_start_of_an_overlong_user_agent():
    padded = CHROME_WINDOWS + " " + "x" * (MAX_USER_AGENT_LENGTH * 100)
    assert device_from_user_agent(padded) == device_from_user_agent(CHROME_WINDOWS[:MAX_USER_AGENT_LENGTH])
    assert not device_from_user_agent(padded).is_bot


def test_it_leaves_unknown_families_empty():
    assert device_from_user_agent("Mozilla/5.0 (Nonsense) Whatever/1.0") == Device("", "", "desktop", False)
