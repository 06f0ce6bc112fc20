"""Country, region and city of an IP address from a GeoIP2/GeoLite2 City database.

The database is `settings.GEOIP_DATABASE`, or the GeoLite2-City file of the
maxminddb-geolite2 package when that is empty. It is opened once per process, at the
first lookup, memory-mapped. A file that is missing or not a City database is a
misconfiguration and raises ImproperlyConfigured at that first lookup rather than
quietly leaving every visitor without a place; any other failure answers UNKNOWN_PLACE.

Region is the first-level subdivision (England, Bavaria, California), the level a
region report compares; city is the English name.

The address is never logged: the errors of the lookup library quote it, so only their
type is.

Places move between networks every week, and the embedded GeoLite2 file dates from
2018. Opening a database built more than STALE_AFTER_DAYS ago logs one warning, and
`manage.py check --deploy` reports it (analytics/checks.py); `wsgi.py` opens the database
as the server starts, so the warning comes then rather than at the first visit.
"""

import ipaddress
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime

import maxminddb
from _maxminddb_geolite2 import geolite2_database
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    country: str  # ISO 3166-1 alpha-2
    region: str
    city: str


UNKNOWN_PLACE = Place(country="", region="", city="")
STALE_AFTER_DAYS = 90


@dataclass(frozen=True)
class DatabaseAge:
    path: str
    built: date
    days: int

    @property
    def stale(self) -> bool:
        return self.days > STALE_AFTER_DAYS

    def describe(self) -> str:
        return f"The GeoIP database {self.path} was built on {self.built.isoformat()}, {self.days} days ago"


# maxminddb's own reader, not geoip2's: geoip2 builds a model of a dozen objects per
# lookup, which cost more than the lookup, for the three names used here.
_reader: maxminddb.Reader | None = None
_reader_lock = threading.Lock()


def place_for_ip(ip: str | None) -> Place:
    address = _public_address(ip)
    if address is None:
        return UNKNOWN_PLACE
    try:
        record = _get_reader().get(address)
    except ValueError:
        return UNKNOWN_PLACE
    except maxminddb.InvalidDatabaseError as exc:
        logger.error("GeoIP lookup failed: %s", type(exc).__name__)
        return UNKNOWN_PLACE
    if not record:
        return UNKNOWN_PLACE
    subdivisions = record.get("subdivisions") or [{}]
    return Place(
        country=(record.get("country") or {}).get("iso_code") or "",
        region=_english_name(subdivisions[0]),
        city=_english_name(record.get("city")),
    )


def _english_name(place: dict | None) -> str:
    return ((place or {}).get("names") or {}).get("en") or ""


def open_database() -> DatabaseAge:
    """Open the database now, not at the first lookup; its age, for the staleness check."""
    reader = _get_reader()
    return _age(reader, _database_path())


def reset_reader() -> None:
    """Close the database so the next lookup opens `GEOIP_DATABASE` afresh."""
    global _reader
    with _reader_lock:
        if _reader is not None:
            _reader.close()
        _reader = None


def _public_address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    # Private, loopback, link-local, shared and documentation ranges place nobody.
    return address if address.is_global else None


def _get_reader() -> maxminddb.Reader:
    global _reader
    if _reader is None:
        with _reader_lock:
            if _reader is None:
                _reader = _open_reader(_database_path())
    return _reader


def _database_path() -> str:
    return settings.GEOIP_DATABASE or geolite2_database()


def _age(reader: maxminddb.Reader, path: str) -> DatabaseAge:
    built = datetime.fromtimestamp(reader.metadata().build_epoch, tz=UTC).date()
    return DatabaseAge(path=path, built=built, days=(datetime.now(tz=UTC).date() - built).days)


def _open_reader(path: str) -> maxminddb.Reader:
    try:
        reader = maxminddb.open_database(path, mode=maxminddb.MODE_AUTO)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise ImproperlyConfigured(f"GEOIP_DATABASE: cannot open {path!r} as a GeoIP2 database ({exc})") from exc
    database_type = reader.metadata().database_type
    if "City" not in database_type:
        reader.close()
        raise ImproperlyConfigured(f"GEOIP_DATABASE: {path!r} is a {database_type} database; a City database is needed")
    age = _age(reader, path)
    if age.stale:
        logger.warning(
            "%s: visitors may be placed where their network was then. "
            "Point GEOIP_DATABASE at a current City database (see the README's Production section).",
            age.describe(),
        )
    return reader
