"""The made-up product site the demo traffic visits: pages, sources, devices, places.

Weights are rough shapes of a small SaaS site (a third of visits direct, a quarter
from search, campaigns by email and ads), not measurements.
"""

from dataclasses import dataclass

HOST = "www.example.com"

BLOG_POSTS = [
    "/blog/first-touch-attribution",
    "/blog/sessions-explained",
    "/blog/self-hosting-analytics",
    "/blog/utm-parameters-guide",
    "/blog/funnels-that-matter",
    "/blog/privacy-without-cookies",
    "/blog/signup-conversion",
    "/blog/ga4-channels",
    "/blog/event-naming",
    "/blog/retention-cohorts",
    "/blog/postgres-for-analytics",
    "/blog/nextjs-tracking",
]
DOCS = ["/docs", "/docs/getting-started", "/docs/sdk/javascript", "/docs/sdk/python", "/docs/api", "/docs/journeys"]
APP_PAGES = ["/app", "/app/projects", "/app/projects/new", "/app/settings", "/app/billing"]

TITLES = {
    "/": "AscendKit — analytics from first visit to signup",
    "/pricing": "Pricing",
    "/features": "Features",
    "/features/attribution": "Attribution",
    "/features/journeys": "Journeys",
    "/about": "About us",
    "/changelog": "Changelog",
    "/signup": "Create your account",
    "/login": "Log in",
    "/blog": "Blog",
}

# Next page after each page: (page, weight); "" ends the session.
MARKETING_NEXT = {
    "/": [("/pricing", 30), ("/features", 22), ("/blog", 8), ("/docs", 8), ("/signup", 4), ("/about", 4), ("", 30)],
    "/pricing": [("/signup", 10), ("/features", 12), ("/", 8), ("/docs", 8), ("", 32)],
    "/features": [
        ("/features/attribution", 20),
        ("/features/journeys", 14),
        ("/pricing", 22),
        ("/signup", 3),
        ("", 24),
    ],
    "/features/attribution": [("/pricing", 25), ("/features/journeys", 10), ("/signup", 4), ("", 30)],
    "/features/journeys": [("/pricing", 25), ("/docs/journeys", 10), ("/signup", 4), ("", 30)],
    "/blog": [("BLOG", 60), ("/", 10), ("", 30)],
    "BLOG": [("BLOG", 20), ("/", 14), ("/pricing", 8), ("/signup", 1), ("", 50)],
    "/docs": [("DOCS", 60), ("/pricing", 6), ("", 30)],
    "DOCS": [("DOCS", 45), ("/signup", 2), ("/pricing", 5), ("", 35)],
    "/about": [("/", 20), ("/changelog", 10), ("", 60)],
    "/changelog": [("/", 15), ("/pricing", 10), ("", 60)],
    "/signup": [("/login", 4), ("/pricing", 10), ("", 50)],
    "/login": [("/app", 50), ("", 50)],
}
APP_NEXT = [("APP", 55), ("DOCS", 10), ("/changelog", 4), ("", 31)]


@dataclass(frozen=True)
class Source:
    name: str
    weight: int
    referrer: str | None = None
    query: str = ""  # UTM parameters and click IDs added to the landing URL
    landings: tuple = ("/",)


SOURCES = [
    Source("direct", 30, landings=("/", "/", "/", "/pricing", "/docs", "/login")),
    Source("google", 24, "https://www.google.com/", landings=("/", "BLOG", "BLOG", "DOCS", "/pricing", "/features")),
    Source("bing", 3, "https://www.bing.com/", landings=("/", "BLOG", "DOCS")),
    Source("duckduckgo", 3, "https://duckduckgo.com/", landings=("/", "BLOG", "DOCS")),
    Source("twitter", 5, "https://t.co/x7Yq2", landings=("BLOG", "BLOG", "/")),
    Source("linkedin", 3, "https://www.linkedin.com/", landings=("BLOG", "/")),
    Source("reddit", 3, "https://www.reddit.com/r/webdev/comments/1abc/", landings=("BLOG", "/")),
    Source("hackernews", 4, "https://news.ycombinator.com/item?id=42", landings=("BLOG", "/")),
    Source("chatgpt", 3, "https://chatgpt.com/", landings=("/", "DOCS", "/pricing")),
    Source("github", 3, "https://github.com/ascendkit/ascendkit", landings=("/", "DOCS")),
    Source("producthunt", 2, "https://www.producthunt.com/posts/ascendkit", landings=("/",)),
    Source(
        "newsletter",
        6,
        query="utm_source=newsletter&utm_medium=email&utm_campaign=monthly-digest",
        landings=("BLOG", "/changelog", "/"),
    ),
    Source(
        "google-ads",
        7,
        query="utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=product+analytics&gclid=Cj0K",
        landings=("/", "/pricing"),
    ),
    Source(
        "google-ads-launch",
        2,
        query="utm_source=google&utm_medium=cpc&utm_campaign=journeys-launch&utm_content=video&gclid=Cj1K",
        landings=("/features/journeys",),
    ),
    Source(
        "facebook-ads",
        2,
        query="utm_source=facebook&utm_medium=paid_social&utm_campaign=retargeting&fbclid=IwAR",
        landings=("/pricing", "/"),
    ),
]

USER_AGENTS = [
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        24,
        (1440, 900),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        22,
        (1920, 1080),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        6,
        (1536, 864),
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 6, (1920, 1080)),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        8,
        (1512, 982),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        16,
        (393, 852),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        12,
        (412, 915),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        4,
        (820, 1180),
    ),
]

# (country, region, city, locale, time zone, weight)
PLACES = [
    ("US", "California", "San Francisco", "en-US", "America/Los_Angeles", 10),
    ("US", "New York", "New York", "en-US", "America/New_York", 9),
    ("US", "Texas", "Austin", "en-US", "America/Chicago", 5),
    ("DE", "Berlin", "Berlin", "de-DE", "Europe/Berlin", 7),
    ("DE", "Bavaria", "Munich", "de-DE", "Europe/Berlin", 4),
    ("GB", "England", "London", "en-GB", "Europe/London", 8),
    ("FR", "Île-de-France", "Paris", "fr-FR", "Europe/Paris", 5),
    ("NL", "North Holland", "Amsterdam", "nl-NL", "Europe/Amsterdam", 3),
    ("IN", "Karnataka", "Bengaluru", "en-IN", "Asia/Kolkata", 7),
    ("BR", "São Paulo", "São Paulo", "pt-BR", "America/Sao_Paulo", 4),
    ("CA", "Ontario", "Toronto", "en-CA", "America/Toronto", 4),
    ("JP", "Tokyo", "Tokyo", "ja-JP", "Asia/Tokyo", 3),
    ("AU", "New South Wales", "Sydney", "en-AU", "Australia/Sydney", 3),
    ("PL", "Mazovia", "Warsaw", "pl-PL", "Europe/Warsaw", 2),
    ("ES", "Madrid", "Madrid", "es-ES", "Europe/Madrid", 2),
    ("", "", "", "en-US", "UTC", 2),  # an address the GeoIP database does not know
]

FIRST_NAMES = ["Ada", "Grace", "Linus", "Ken", "Barbara", "Alan", "Margaret", "Dennis", "Frances", "Edsger"]
LAST_NAMES = ["Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Turing", "Hamilton", "Ritchie", "Allen"]
