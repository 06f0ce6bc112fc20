"""Referrers classified from Matomo's lists and the project's additions, case by case.

Each case is a referrer as browsers and apps send it, with the source and GA4 channel a
person reading the report expects. The cases are ours, not the data set's examples.
"""

import pytest

from analytics.enrichment.sources import parse_page_url, traffic_from

PAGE = parse_page_url("https://www.example.com/pricing")

SEARCH = [
    # Google under country domains, its apps, its verticals.
    ("https://www.google.com/", "Google"),
    ("https://www.google.co.uk/", "Google"),
    ("https://www.google.com.au/search?q=analytics", "Google"),
    ("https://www.google.co.jp/", "Google"),
    ("https://www.google.fr/url?sa=t&url=https://www.example.com/", "Google"),
    ("https://google.de/", "Google"),
    ("android-app://com.google.android.googlequicksearchbox/https/www.google.com", "Google"),
    ("https://images.google.de/", "Google Images"),
    ("https://www.google.com/imgres?imgurl=x", "Google Images"),
    ("https://scholar.google.com/", "Google Scholar"),
    ("https://www.google.com/cse?cx=partner", "Google Custom Search"),
    # Bing, its country hosts, its image search and its app.
    ("https://www.bing.com/search?q=analytics", "Bing"),
    ("https://cn.bing.com/", "Bing"),
    ("https://www.bing.com/images/search?q=analytics", "Bing Images"),
    ("android-app://com.microsoft.bing/", "Bing"),
    # Yahoo's search, in countries and Japan's own.
    ("https://search.yahoo.com/", "Yahoo!"),
    ("https://uk.search.yahoo.com/", "Yahoo!"),
    ("https://r.search.yahoo.com/_ylt=abc/RV=2/RE=1/RO=10/RU=https%3a%2f%2fwww.example.com%2f", "Yahoo!"),
    ("https://search.yahoo.co.jp/", "Yahoo! Japan"),
    # Yandex under its many country domains.
    ("https://yandex.ru/", "Yandex"),
    ("https://yandex.com.tr/", "Yandex"),
    ("https://yandex.kz/", "Yandex"),
    ("https://ya.ru/", "Yandex"),
    # The ones plain Referral used to swallow.
    ("https://search.aol.com/", "AOL"),
    ("https://search.aol.co.uk/", "AOL"),
    ("https://www.ask.com/", "Ask"),
    ("https://uk.ask.com/", "Ask"),
    ("https://go.mail.ru/", "Mailru"),
    ("https://suche.web.de/", "Web.de"),
    ("https://suche.gmx.net/", "Google"),  # GMX's search is Google's, as the data set says
    ("https://lemoteur.orange.fr/", "Orange"),
    # Elsewhere.
    ("https://www.baidu.com/", "Baidu"),
    ("https://m.baidu.com/", "Baidu"),
    ("https://duckduckgo.com/", "DuckDuckGo"),
    ("https://search.naver.com/", "Naver"),
    ("https://m.search.naver.com/", "Naver"),
    ("https://search.daum.net/", "Daum"),
    ("https://www.so.com/", "360search"),
    ("https://m.sogou.com/", "Sogou"),
    ("https://coccoc.com/", "Cốc Cốc"),
    ("https://search.seznam.cz/", "Seznam"),
    ("https://www.ecosia.org/", "Ecosia"),
    ("https://www.qwant.com/", "Qwant"),
    ("https://www.startpage.com/", "StartPage"),
    ("https://search.lilo.org/", "Lilo"),
    ("https://search.brave.com/", "Brave Search"),
    ("https://kagi.com/", "Kagi"),
]

SOCIAL = [
    ("https://www.facebook.com/", "Facebook"),
    ("https://m.facebook.com/", "Facebook"),
    ("https://l.facebook.com/l.php?u=x", "Facebook"),
    ("android-app://com.facebook.katana/", "Facebook"),
    ("https://www.instagram.com/", "instagram"),
    ("https://t.co/AbCdEf", "Twitter"),
    ("https://x.com/home", "Twitter"),
    ("https://www.linkedin.com/feed/", "LinkedIn"),
    ("android-app://com.linkedin.android/", "LinkedIn"),
    ("https://www.reddit.com/r/django/", "reddit"),
    ("https://old.reddit.com/", "reddit"),
    ("https://vk.com/", "Vkontakte"),
    ("https://ok.ru/", "Odnoklassniki"),
    ("https://odnoklassniki.ru/", "Odnoklassniki"),
    ("https://my.mail.ru/", "my.mail.ru"),
    ("https://news.ycombinator.com/item?id=1", "Hacker News"),
    ("https://www.pinterest.com/", "Pinterest"),
    ("https://www.pinterest.fr/", "Pinterest"),
    ("https://someone.tumblr.com/", "tumblr"),
    ("https://web.telegram.org/", "Telegram"),
    ("android-app://org.telegram.messenger/", "Telegram"),
    ("https://t.cn/A6x", "Weibo"),
    ("https://www.xing.com/", "XING"),
    ("https://www.douban.com/", "Douban"),
    ("https://github.com/org/repo", "GitHub"),
    ("https://bsky.app/profile/someone", "Bluesky"),
    ("https://www.threads.net/", "Threads"),
    ("https://mastodon.social/@someone", "Mastodon"),
    ("https://www.tiktok.com/", "TikTok"),
]

VIDEO = [
    ("https://www.youtube.com/watch?v=x", "YouTube"),
    ("https://m.youtube.com/", "YouTube"),
    ("https://youtu.be/x", "YouTube"),
    ("android-app://com.google.android.youtube/", "YouTube"),
    ("https://vimeo.com/123", "Vimeo"),
    ("https://www.twitch.tv/someone", "Twitch"),
]

EMAIL = [
    ("https://mail.google.com/mail/u/0/", "Gmail"),
    ("android-app://com.google.android.gm/", "Gmail"),
    ("https://outlook.live.com/mail/0/", "Outlook"),
    ("https://outlook.office.com/", "Outlook"),
    ("https://mail.yahoo.com/d/folders/1", "Yahoo Mail"),
    ("https://mail.yahoo.co.jp/", "Yahoo Mail"),
    ("http://36ohk6dgmcd1n-c.c.yom.mail.yahoo.net/om/api/1.0/openmail.app.invoke/36ohk6dgmcd1n/11", "Yahoo Mail"),
    ("https://e.mail.ru/inbox/", "Mail.ru"),
    ("https://mail.yandex.ru/", "Yandex Mail"),
    ("https://mail.yandex.com.tr/", "Yandex Mail"),
    ("https://navigator.gmx.net/mail", "GMX Mail"),
    ("https://3c.web.de/mail/client", "WEB.DE Mail"),
    ("https://messagerie.orange.fr/", "Orange Mail"),
    ("https://www.orange.fr/webmail/inbox", "Orange Mail"),
    ("https://mail.aol.com/", "AOL Mail"),
    ("https://mail.proton.me/u/0/inbox", "Proton Mail"),
    ("https://www.icloud.com/mail/", "iCloud Mail"),
]

AI = [
    ("https://chatgpt.com/", "ChatGPT"),
    ("https://chat.openai.com/", "ChatGPT"),
    ("https://www.perplexity.ai/", "Perplexity"),
    ("https://claude.ai/", "Claude"),
    ("https://gemini.google.com/app", "Gemini"),
    ("https://copilot.microsoft.com/", "Copilot"),
    ("https://chat.deepseek.com/", "Deepseek"),
    ("https://chat.mistral.ai/chat", "Le Chat"),
    ("https://x.com/i/grok?conversation=1", "Grok"),
    ("https://grok.com/", "Grok"),
    ("https://notebooklm.google.com/", "NotebookLM"),
    ("https://chat.qwen.ai/", "Qwen"),
]

# Sites no list names: the referring domain is the source, the channel Referral.
UNKNOWN = [
    ("https://example.org/blog/post", "example.org"),
    ("https://www.example.org/", "example.org"),
    ("https://blog.example.net/", "blog.example.net"),
    ("https://news.yahoo.com/article", "news.yahoo.com"),  # Yahoo's portal, not its search
    ("https://www.cnn.com/2026/01/01/article", "cnn.com"),  # listed only for its site search
    ("https://google.example.com/", "google.example.com"),
    ("https://www.notgoogle.com/", "notgoogle.com"),
    ("https://mail.example.com/", "mail.example.com"),
]

CASES = [
    *[(referrer, source, "Organic Search") for referrer, source in SEARCH],
    *[(referrer, source, "Organic Social") for referrer, source in SOCIAL],
    *[(referrer, source, "Organic Video") for referrer, source in VIDEO],
    *[(referrer, source, "Email") for referrer, source in EMAIL],
    *[(referrer, source, "Referral") for referrer, source in AI],  # GA4 has no AI channel
    *[(referrer, source, "Referral") for referrer, source in UNKNOWN],
]


@pytest.mark.parametrize(("referrer", "source", "channel"), CASES)
def test_it_names_the_source_and_channel_of_a_referrer(referrer, source, channel):
    traffic = traffic_from(PAGE, referrer)
    assert (traffic.source, traffic.channel) == (source, channel)


@pytest.mark.parametrize(
    "referrer",
    ["https://www.example.com/features", "https://example.com/", "http://WWW.EXAMPLE.COM/pricing?x=1"],
)
def test_a_same_site_referrer_is_not_a_source(referrer):
    traffic = traffic_from(PAGE, referrer)
    assert (traffic.source, traffic.medium, traffic.channel, traffic.referrer_host) == ("", "", "Direct", "")


def test_the_cases_cover_every_category():
    assert min(len(SEARCH), len(SOCIAL), len(EMAIL), len(AI), len(UNKNOWN)) >= 8
    assert len(VIDEO) >= 5
