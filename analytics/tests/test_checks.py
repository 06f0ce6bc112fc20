from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from analytics.checks import GEOIP_TAG
from analytics.enrichment.geo import reset_reader

BUILT = datetime(2018, 7, 3, 21, 26, 56, tzinfo=UTC)  # build_epoch of the embedded GeoLite2 file


@pytest.fixture(autouse=True)
def _fresh_reader():
    reset_reader()
    yield
    reset_reader()


def deploy_checks():
    return run_checks(include_deployment_checks=True, tags=[GEOIP_TAG])


def test_the_deploy_check_reports_a_database_older_than_90_days():
    with time_machine.travel(BUILT + timedelta(days=91), tick=False):
        [warning] = deploy_checks()
    assert warning.id == "analytics.W001"
    assert "built on 2018-07-03, 91 days ago" in warning.msg
    assert "geoipupdate" in warning.hint


def test_the_deploy_check_passes_a_current_database():
    with time_machine.travel(BUILT + timedelta(days=30), tick=False):
        assert deploy_checks() == []


def test_the_database_age_is_checked_only_for_deployment():
    assert run_checks(tags=[GEOIP_TAG]) == []


def test_the_deploy_check_reports_a_missing_database(settings, tmp_path):
    settings.GEOIP_DATABASE = str(tmp_path / "GeoLite2-City.mmdb")
    [error] = deploy_checks()
    assert error.id == "analytics.E001"
    assert "GEOIP_DATABASE" in error.msg


def test_manage_py_check_deploy_shows_the_stale_database(capsys):
    call_command("check", "--deploy", "--tag", GEOIP_TAG)
    assert "analytics.W001" in capsys.readouterr().err


def test_manage_py_check_deploy_fails_on_a_missing_database(settings, tmp_path):
    settings.GEOIP_DATABASE = str(tmp_path / "missing.mmdb")
    with pytest.raises(SystemCheckError, match="analytics.E001"):
        call_command("check", "--deploy", "--tag", GEOIP_TAG)
