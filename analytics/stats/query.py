"""What a report is asked: an environment, a period in its time zone, filters, a limit.

`stats_query_parse` turns the Stats API's query parameters (SPEC 4.4) into a
`StatsQuery`; the portal builds the same object from its own query string, so both
answer from one place. Every bad value raises an ApplicationError that names it.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from ascendkit_site.errors import ApplicationError
from identity.models import Environment

from .properties import FILTER_PROPERTIES, property_validate

PERIODS = ("day", "7d", "30d", "90d", "custom")
PERIOD_DAYS = {"day": 1, "7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "30d"
# A custom range may span at most this many days: a report over years of raw rows
# would hold a connection for too long.
CUSTOM_MAX_DAYS = 400
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_FILTERS = 10
FILTER_VALUE_MAX = 2048
_DIGITS = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class Filter:
    property: str
    value: str


@dataclass(frozen=True)
class StatsQuery:
    """A period [start, end) of whole days in the environment's time zone, and filters."""

    environment: Environment
    period: str
    date_from: date
    date_to: date  # inclusive
    filters: tuple[Filter, ...] = field(default=())
    limit: int = DEFAULT_LIMIT

    @property
    def zone(self) -> ZoneInfo:
        return environment_zone(self.environment)

    @property
    def start(self) -> datetime:
        # In UTC: arithmetic between two local times of one zone would ignore a DST change.
        return datetime.combine(self.date_from, time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        # Midnight of the day after: half-open, and right across DST changes.
        return datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def is_hourly(self) -> bool:
        """A one-day period is charted by the hour, anything longer by the day."""
        return self.days == 1

    def previous_period(self) -> "StatsQuery":
        """The same number of days right before this period, with the same filters."""
        date_to = self.date_from - timedelta(days=1)
        return replace(self, date_from=date_to - timedelta(days=self.days - 1), date_to=date_to)

    def with_filter(self, property_name: str, value: str) -> "StatsQuery":
        kept = tuple(f for f in self.filters if f.property != property_name)
        return replace(self, filters=(*kept, Filter(property_name, value)))

    def filter_value(self, property_name: str) -> str | None:
        return next((f.value for f in self.filters if f.property == property_name), None)


def environment_zone(environment: Environment) -> ZoneInfo:
    try:
        return ZoneInfo(environment.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def stats_query_parse(*, environment: Environment, params: Mapping[str, str], today: date | None = None) -> StatsQuery:
    """The query that `period`, `date`, `filters` and `limit` describe.

    A preset period ends today (in the environment's time zone) and includes it:
    `7d` is today and the six days before, as in Plausible.
    """
    zone = environment_zone(environment)
    today = today or timezone.now().astimezone(zone).date()
    period = _text(params, "period") or DEFAULT_PERIOD
    if period not in PERIODS:
        raise ApplicationError("invalid_period", f"The period '{period}' is not one of {', '.join(PERIODS)}.")
    if period == "custom":
        date_from, date_to = _custom_dates(_text(params, "date"))
    else:
        date_to = today
        date_from = today - timedelta(days=PERIOD_DAYS[period] - 1)
    return StatsQuery(
        environment=environment,
        period=period,
        date_from=date_from,
        date_to=date_to,
        filters=filters_parse(_text(params, "filters")),
        limit=limit_parse(_text(params, "limit")),
    )


def _text(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


def _custom_dates(text: str) -> tuple[date, date]:
    if not text:
        raise ApplicationError("invalid_date", "A custom period needs date=YYYY-MM-DD,YYYY-MM-DD.")
    parts = text.split(",")
    if len(parts) != 2:
        raise ApplicationError("invalid_date", f"The date '{text}' is not YYYY-MM-DD,YYYY-MM-DD.")
    date_from, date_to = (_date(part.strip(), text) for part in parts)
    if date_from > date_to:
        raise ApplicationError("invalid_date", f"The date '{text}' ends before it starts.")
    if (date_to - date_from).days + 1 > CUSTOM_MAX_DAYS:
        raise ApplicationError("invalid_date", f"The date '{text}' spans more than {CUSTOM_MAX_DAYS} days.")
    return date_from, date_to


def _date(part: str, whole: str) -> date:
    try:
        if len(part) != 10:
            raise ValueError(part)
        return date.fromisoformat(part)
    except ValueError:
        raise ApplicationError("invalid_date", f"The date '{part}' in '{whole}' is not a YYYY-MM-DD date.") from None


def filters_parse(text: str) -> tuple[Filter, ...]:
    """`property==value;property==value`, combined with AND; one filter per property."""
    if not text:
        return ()
    filters: dict[str, Filter] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, separator, value = part.partition("==")
        name = name.strip()
        if not separator or not name:
            raise ApplicationError("invalid_filter", f"The filter '{part}' is not property==value.")
        property_validate(name, allowed=FILTER_PROPERTIES, code="invalid_property", what="filter property")
        if len(value) > FILTER_VALUE_MAX:
            raise ApplicationError("invalid_filter", f"The value of the filter on '{name}' is too long.")
        if name in filters:
            raise ApplicationError("invalid_filter", f"The filter '{part}' repeats the property '{name}'.")
        filters[name] = Filter(name, value.strip())
    if len(filters) > MAX_FILTERS:
        raise ApplicationError("invalid_filter", f"At most {MAX_FILTERS} filters, not {len(filters)}.")
    return tuple(filters.values())


def limit_parse(text: str, *, default: int = DEFAULT_LIMIT) -> int:
    if not text:
        return default
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise ApplicationError("invalid_limit", f"The limit '{text}' is not a number from 1 to {MAX_LIMIT}.")
    return int(text)
