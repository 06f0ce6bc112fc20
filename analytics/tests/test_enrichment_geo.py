import logging
from datetime import UTC, date, datetime, timedelta

import maxminddb
import pytest
import time_machine
from _maxminddb_geolite2 import geolite2_database
from django.core.exceptions import ImproperlyConfigured

from analytics.enrichment import geo
from analytics.enrichment.geo import UNKNOWN_PLACE, Place, open_database, place_for_ip, reset_reader


@pytest.fixture(autouse=True)
def _fresh_reader():
    reset_reader()
    yield
    reset_reader()


# Addresses as the 2018 GeoLite2-City file of maxminddb-geolite2 places them.
@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("8.8.8.8", Place("US", "", "")),
        ("81.2.69.142", Place("GB", "England", "Willesden")),
        ("85.214.132.117", Place("DE", "Land Berlin", "Berlin")),
        ("89.160.20.112", Place("SE", "Stockholm", "Stockholm")),
        ("2001:4860:4860::8888", Place("US", "California", "Mountain View")),
        ("2a00:1450:4001:80b::200e", Place("DE", "Hesse", "Frankfurt am Main")),
        ("::ffff:85.214.132.117", Place("DE", "Land Berlin", "Berlin")),
    ],
)
def test_it_places_public_addresses(ip, expected):
    assert place_for_ip(ip) == expected


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "100.64.0.1", "203.0.113.7", "::1", "fe80::1", "2001:db8::1"],
)
def test_it_does_not_place_private_or_reserved_addresses(ip):
    assert place_for_ip(ip) == UNKNOWN_PLACE


@pytest.mark.parametrize("ip", [None, "", "not an address", "999.1.1.1", "203.0.113.7:80"])
def test_it_does_not_place_garbage(ip):
    assert place_for_ip(ip) == UNKNOWN_PLACE


def test_it_does_not_place_a_public_address_missing_from_the_database():
    assert place_for_ip("224.0.0.1") == UNKNOWN_PLACE


def test_it_reads_the_database_named_by_the_setting(settings):
    settings.GEOIP_DATABASE = geolite2_database()
    assert place_for_ip("85.214.132.117").country == "DE"


def test_it_refuses_a_missing_database_at_the_first_lookup(settings, tmp_path):
    settings.GEOIP_DATABASE = str(tmp_path / "missing.mmdb")
    with pytest.raises(ImproperlyConfigured, match="GEOIP_DATABASE"):
        place_for_ip("8.8.8.8")


def test_it_refuses_a_file_that_is_not_a_database(settings, tmp_path):
    path = tmp_path / "garbage.mmdb"
    path.write_bytes(b"not a maxmind database" * 100)
    settings.GEOIP_DATABASE = str(path)
    with pytest.raises(ImproperlyConfigured, match="GEOIP_DATABASE"):
        place_for_ip("8.8.8.8")


def test_it_opens_the_database_once():
    place_for_ip("8.8.8.8")
    reader = geo._reader
    place_for_ip("85.214.132.117")
    assert geo._reader is reader


def test_it_logs_a_failed_lookup_without_the_address(monkeypatch, caplog):
    class BrokenReader:
        def get(self, ip):
            raise maxminddb.InvalidDatabaseError(f"corrupt data near {ip}")

        def close(self):
            pass

    monkeypatch.setattr(geo, "_reader", BrokenReader())
    with caplog.at_level(logging.ERROR, logger=geo.__name__):
        assert place_for_ip("85.214.132.117") == UNKNOWN_PLACE
    assert "InvalidDatabaseError" in caplog.text
    assert "85.214" not in caplog.text


# --- the database's age ---------------------------------------------------------------------

BUILT = datetime(2018, 7, 3, 21, 26, 56, tzinfo=UTC)  # build_epoch of the embedded file


def stale_warnings(caplog):
    return [record for record in caplog.records if record.name == geo.__name__ and "was built on" in record.message]


def test_it_warns_once_when_the_database_is_older_than_90_days(caplog):
    with time_machine.travel(BUILT + timedelta(days=91), tick=False), caplog.at_level(logging.WARNING):
        place_for_ip("8.8.8.8")
        place_for_ip("85.214.132.117")
    [warning] = stale_warnings(caplog)
    assert "2018-07-03, 91 days ago" in warning.message
    assert "GEOIP_DATABASE" in warning.message
    assert "8.8.8.8" not in caplog.text and "85.214" not in caplog.text


def test_it_does_not_warn_about_a_database_90_days_old(caplog):
    with time_machine.travel(BUILT + timedelta(days=90), tick=False), caplog.at_level(logging.WARNING):
        age = open_database()
        place_for_ip("8.8.8.8")
    assert (age.built, age.days, age.stale) == (date(2018, 7, 3), 90, False)
    assert stale_warnings(caplog) == []


def test_opening_the_database_early_keeps_it_for_the_lookups():
    open_database()
    reader = geo._reader
    place_for_ip("8.8.8.8")
    assert geo._reader is reader
