"""Paths and the environment the benchmark's processes run with."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
DEFAULT_DB_NAME = "ascendkit_bench"

COLLECT_PATH = "/v1/analytics/collect"
# The hostname of the simulated customer site; same-site referrers use it too.
SITE_HOST = "www.bench-site.example"
SITE_ORIGIN = f"https://{SITE_HOST}"


# The two ways the collect endpoint can store a batch: "inline", the request writes
# it; "queued", the request stores it as one `analytics_collectbatch` row and
# `manage.py collect_writer` writes the rows.
MODES = ("inline", "queued")
# application_name of each process's PostgreSQL connections (libpq reads PGAPPNAME),
# so that the backends' CPU can be told apart.
APP_GUNICORN = "bench-gunicorn"
APP_WRITER = "bench-collect-writer"
APP_SAMPLER = "bench-sampler"


def mode_env(mode: str) -> dict[str, str]:
    """Set either way, so that a developer's `.env` cannot choose the mode."""
    if mode not in MODES:
        raise ValueError(f"Unknown mode: {mode!r}")
    return {"COLLECT_QUEUE": "true" if mode == "queued" else "false"}


def database_url(db_name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db_name}"


def conninfo(db_name: str, application_name: str = "") -> str:
    info = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={db_name}"
    return info + (f" application_name={application_name}" if application_name else "")


def django_env(db_name: str, **extra: str) -> dict[str, str]:
    """Settings for every process that loads Django: the bench database, production-like.

    REDIS_URL is set empty rather than removed so that a developer's `.env` cannot
    bring a broker back: Celery tasks run in-process.
    """
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="ascendkit_site.settings",
        DATABASE_URL=database_url(db_name),
        DEBUG="false",
        SECRET_KEY="bench-secret-key-not-for-production-0123456789",
        ALLOWED_HOSTS="127.0.0.1",
        TRUSTED_PROXY_COUNT="1",
        REDIS_URL="",
        LOG_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env
