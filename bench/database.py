"""The throwaway bench databases: one made fresh and migrated, a copy of it per mode,
all dropped at the end."""

import json
import re
import subprocess
import time
from pathlib import Path

import psycopg

from .config import PYTHON, ROOT, conninfo, django_env

_SAFE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _checked(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name):
        raise ValueError(f"Unsafe database name: {name!r}")
    return name


def recreate(db_name: str) -> None:
    name = _checked(db_name)
    with psycopg.connect(conninfo("postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def copy_of(template: str, db_name: str) -> None:
    """A fresh database made from `template` (migrated, with its environment): both modes start equal."""
    name, source = _checked(db_name), _checked(template)
    with psycopg.connect(conninfo("postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for attempt in range(20):  # the template must have no other session, an autovacuum worker included
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(0.25)


def drop(db_name: str) -> None:
    name = _checked(db_name)
    with psycopg.connect(conninfo("postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(db_name: str, *args: str, timeout: float = 300) -> str:
    """Run `manage.py` against the bench database; its stdout, or an error with its stderr."""
    done = subprocess.run(
        [str(PYTHON), "manage.py", *args],
        cwd=ROOT,
        env=django_env(db_name),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout


def migrate(db_name: str) -> None:
    manage(db_name, "migrate", "--noinput")


def create_environment(db_name: str) -> dict:
    output = manage(db_name, "create_environment", "Bench", "Site", "production", "--json")
    return json.loads(output.strip().splitlines()[-1])


def pageview_max_id(db_name: str) -> int:
    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM analytics_pageview").fetchone()[0]


def postmaster_pid(db_name: str) -> int | None:
    """The PostgreSQL server's main process: the parent of this connection's backend."""
    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:
            stat = Path(f"/proc/{backend}/stat").read_text()
        except OSError:  # a server in another container or machine
            return None
    return int(stat.rsplit(")", 1)[-1].split()[1])


def backend_pids(db_name: str) -> list[int]:
    """Server processes serving connections to the bench database."""
    return [pid for pids in backends_by_application(db_name).values() for pid in pids]


def backends_by_application(db_name: str) -> dict[str, list[int]]:
    """The bench database's server processes by their connection's application_name."""
    with psycopg.connect(conninfo("postgres"), autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT application_name, pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db_name,),
        ).fetchall()
    found: dict[str, list[int]] = {}
    for name, pid in rows:
        found.setdefault(name or "", []).append(pid)
    return found


def table_counts(db_name: str) -> dict[str, int]:
    tables = (
        "analytics_visitor",
        "analytics_session",
        "analytics_pageview",
        "analytics_event",
        "analytics_attribution",
    )
    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}
        counts["bot hits counted"] = conn.execute(
            "SELECT coalesce(sum(count), 0)::bigint FROM analytics_bothit"
        ).fetchone()[0]
        if has_table(conn, "analytics_collectbatch"):
            counts["analytics_collectbatch"] = conn.execute("SELECT count(*) FROM analytics_collectbatch").fetchone()[0]
    return counts


def has_table(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]


def message_id_repeats(db_name: str) -> int:
    """Message IDs stored more than once in an environment, across pageviews and events (0 expected)."""
    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        return conn.execute(
            """
            SELECT coalesce(sum(n - 1), 0)::bigint FROM (
                SELECT count(*) AS n FROM (
                    SELECT environment_id, message_id FROM analytics_pageview
                    UNION ALL
                    SELECT environment_id, message_id FROM analytics_event
                ) AS stored GROUP BY environment_id, message_id HAVING count(*) > 1
            ) AS repeats
            """
        ).fetchone()[0]


def analyze(db_name: str) -> None:
    """Refresh planner statistics, as autovacuum does on a live database."""
    with psycopg.connect(conninfo(db_name), autocommit=True, connect_timeout=5) as conn:
        conn.execute("ANALYZE")


def server_setting(db_name: str, name: str) -> str:
    with psycopg.connect(conninfo(db_name), connect_timeout=5) as conn:
        return conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
