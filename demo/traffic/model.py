"""A deterministic plan of each demo visitor: sessions, pages, events, a signup.

Every visitor is planned from its own random stream (`seed` and its index), so a
plan does not depend on how the run is chunked, and the same seed makes the same
traffic. Times run over the last `days` days up to `now`: first visits weighted
to weekdays and afternoons and growing slowly, return visits after hours or
days, pages a few seconds to minutes apart (single-page-app navigation: the
previous page is the referrer), sessions more than the 30-minute timeout apart.
"""

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate

from . import site

BASE62 = string.digits + string.ascii_letters
# Hours of the day (UTC) weighted as a site with visitors in Europe and the Americas sees them.
HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 4, 6, 7, 8, 9, 9, 10, 10, 10, 10, 9, 8, 7, 6, 5, 4, 3]
SESSION_GAP_MIN = timedelta(minutes=45)
SIGNUP_COMPLETION = 0.15


@dataclass
class PlannedItem:
    at: datetime
    url: str
    name: str = ""  # a custom event's name; empty for a pageview
    referrer: str | None = None
    title: str = ""
    properties: dict = field(default_factory=dict)


@dataclass
class PlannedSignup:
    at: datetime
    email: str
    name: str


@dataclass
class PlannedBusinessEvent:
    at: datetime
    name: str
    properties: dict


@dataclass
class PlannedVisitor:
    index: int
    public_id: str
    user_agent: str
    screen: tuple[int, int]
    place: tuple[str, str, str]
    locale: str
    time_zone: str
    sessions: list[list[PlannedItem]] = field(default_factory=list)
    signup: PlannedSignup | None = None
    business_events: list[PlannedBusinessEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Weighted:
    """Items to pick from by weight, their running totals summed once rather than per pick.

    `pick` draws what `rng.choices(items, weights)` draws, from the same one random number.
    """

    items: tuple
    cumulative: tuple

    @classmethod
    def of(cls, weighted) -> "Weighted":
        items, weights = zip(*weighted, strict=True)
        return cls(items=items, cumulative=tuple(accumulate(weights)))

    def pick(self, rng: random.Random):
        return rng.choices(self.items, cum_weights=self.cumulative)[0]


USER_AGENTS = Weighted.of([((ua, w, s), w) for ua, w, s in site.USER_AGENTS])
PLACES = Weighted.of([(place, place[-1]) for place in site.PLACES])
SOURCES = Weighted.of([(source, source.weight) for source in site.SOURCES])
HOURS = Weighted.of(list(zip(range(24), HOUR_WEIGHTS, strict=True)))
MARKETING_NEXT = {page: Weighted.of(choices) for page, choices in site.MARKETING_NEXT.items()}
OTHER_NEXT = Weighted.of([("/", 20), ("", 60)])
APP_NEXT = Weighted.of(site.APP_NEXT)


class TrafficModel:
    def __init__(self, *, seed: int, days: int, now: datetime):
        self.seed = seed
        self.days = days
        self.now = now
        self.start = now - timedelta(days=days)

    def visitor(self, index: int) -> PlannedVisitor:
        rng = random.Random(f"{self.seed}:{index}")
        user_agent, _, screen = USER_AGENTS.pick(rng)
        country, region, city, locale, time_zone, _ = PLACES.pick(rng)
        visitor = PlannedVisitor(
            index=index,
            public_id="vis_" + "".join(rng.choice(BASE62) for _ in range(24)),
            user_agent=user_agent,
            screen=screen,
            place=(country, region, city),
            locale=locale,
            time_zone=time_zone,
        )
        at = self._first_visit(rng)
        session_count = min(8, 1 + int(rng.expovariate(1.1)))
        for number in range(session_count):
            if at >= self.now:
                break
            items = self._session(rng, visitor, at, returning=number > 0)
            visitor.sessions.append(items)
            gap = timedelta(hours=rng.expovariate(1 / 40))
            at = items[-1].at + max(SESSION_GAP_MIN, gap)
        return visitor

    def _first_visit(self, rng: random.Random) -> datetime:
        while True:
            # Slow growth: later days get up to a third more first visits.
            day = int(self.days * (rng.random() ** 0.85))
            moment = self.start + timedelta(days=day)
            weekend = moment.weekday() >= 5
            if weekend and rng.random() < 0.35:
                continue
            hour = HOURS.pick(rng)
            moment = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
            moment += timedelta(seconds=rng.randrange(3600))
            if moment < self.now:
                return moment

    def _session(self, rng: random.Random, visitor: PlannedVisitor, at: datetime, *, returning: bool):
        signed_up = visitor.signup is not None
        # Most return visits are typed or bookmarked.
        source = site.SOURCES[0] if returning and rng.random() < 0.6 else SOURCES.pick(rng)
        page = "APP" if signed_up and rng.random() < 0.7 else rng.choice(source.landings)
        page = self._concrete(rng, page)
        query = f"?{source.query}" if source.query else ""
        items = [PlannedItem(at=at, url=self._url(page, query), referrer=source.referrer, title=self._title(page))]
        self._events_on(rng, items, page, at)
        previous = page
        while len(items) < 40:
            next_page = self._next(rng, previous, signed_up)
            if not next_page:
                break
            at = items[-1].at + timedelta(seconds=min(1500, 4 + rng.expovariate(1 / 55)))
            if at >= self.now:
                break
            items.append(
                PlannedItem(at=at, url=self._url(next_page), referrer=self._url(previous), title=self._title(next_page))
            )
            self._events_on(rng, items, next_page, at)
            if next_page == "/signup" and not signed_up and rng.random() < SIGNUP_COMPLETION:
                self._sign_up(rng, visitor, items[-1].at + timedelta(seconds=20 + rng.randrange(90)))
                signed_up = True
                next_page = "/app"
                at = visitor.signup.at + timedelta(seconds=2)
                if at < self.now:
                    items.append(
                        PlannedItem(at=at, url=self._url("/app"), referrer=self._url("/signup"), title="Dashboard")
                    )
            previous = next_page
        items.sort(key=lambda item: item.at)
        return items

    def _next(self, rng: random.Random, page: str, signed_up: bool) -> str:
        if page.startswith("/app"):
            choices = APP_NEXT
        else:
            key = "BLOG" if page.startswith("/blog/") else "DOCS" if page.startswith("/docs/") else page
            choices = MARKETING_NEXT.get(key, OTHER_NEXT)
        chosen = choices.pick(rng)
        if signed_up and chosen == "/signup":
            chosen = "/app"
        return self._concrete(rng, chosen) if chosen else ""

    def _concrete(self, rng: random.Random, page: str) -> str:
        if page == "BLOG":
            # A few posts draw most readers.
            return site.BLOG_POSTS[min(len(site.BLOG_POSTS) - 1, int(rng.expovariate(0.35)))]
        if page == "DOCS":
            return rng.choice(site.DOCS[1:])
        if page == "APP":
            return rng.choice(site.APP_PAGES)
        return page

    def _events_on(self, rng: random.Random, items: list[PlannedItem], page: str, at: datetime) -> None:
        def track(name: str, properties: dict) -> None:
            items.append(
                PlannedItem(
                    at=at + timedelta(seconds=1 + rng.randrange(30)),
                    url=self._url(page),
                    name=name,
                    properties=properties,
                )
            )

        if page == "/pricing" and rng.random() < 0.25:
            track("app.pricing_toggled", {"billing": rng.choice(["monthly", "yearly"])})
        elif page == "/" and rng.random() < 0.12:
            track("app.cta_clicked", {"cta": rng.choice(["hero", "footer"])})
        elif page.startswith("/docs/") and rng.random() < 0.15:
            track("app.snippet_copied", {"language": rng.choice(["javascript", "python", "shell"])})
        elif page == "/signup" and rng.random() < 0.7:
            track("app.signup_started", {})
        elif page.startswith("/app/projects") and rng.random() < 0.2:
            track("app.chart_viewed", {"chart": rng.choice(["funnel", "flows", "timeseries"])})

    def _sign_up(self, rng: random.Random, visitor: PlannedVisitor, at: datetime) -> None:
        first, last = rng.choice(site.FIRST_NAMES), rng.choice(site.LAST_NAMES)
        email = f"{first}.{last}.{self.seed}.{visitor.index}@example.org".lower()
        visitor.signup = PlannedSignup(at=at, email=email, name=f"{first} {last}")
        later = [
            ("app.project_created", timedelta(minutes=2 + rng.randrange(30)), 0.8, {"template": "website"}),
            ("app.teammate_invited", timedelta(hours=1 + rng.randrange(72)), 0.3, {"role": "viewer"}),
            ("app.subscription_started", timedelta(days=1 + rng.randrange(14)), 0.25, {"plan": "team"}),
        ]
        for name, delay, chance, properties in later:
            if rng.random() < chance and at + delay < self.now:
                visitor.business_events.append(PlannedBusinessEvent(at=at + delay, name=name, properties=properties))

    def _url(self, page: str, query: str = "") -> str:
        return f"https://{site.HOST}{page}{query}"

    def _title(self, page: str) -> str:
        if page in site.TITLES:
            return site.TITLES[page]
        return page.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").capitalize()
