"""The local environment: Airflow and both connections pointed at the embedded server by default.

Anything already set in the environment wins, so the same commands run against any other
PostgreSQL by exporting AIRFLOW_CONN_RETAIL_SOURCE, AIRFLOW_CONN_SEGMENT_WAREHOUSE and
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from segments import queries
from segments.tools import server
from segments.settings import LOCAL_DIR, PROJECT_ROOT, SOURCE_CONN_ID, WAREHOUSE_CONN_ID

AIRFLOW_HOME = LOCAL_DIR / "airflow"
DATABASE_VARIABLES = tuple(server.local_environment())


def free_port() -> int:
    """A TCP port of this machine that nothing listens on now (for a server started next)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def airflow_home() -> Path:
    """Airflow's home: the environment's AIRFLOW_HOME (a stack of its own), else the local one."""
    return Path(os.environ.get("AIRFLOW_HOME", AIRFLOW_HOME))


def airflow_environment() -> dict[str, str]:
    """Airflow settings for running the project's DAG from this checkout."""
    return {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "utc",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
        # Pooled metadata connections are pinged before reuse: after a server restart they reconnect.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_PRE_PING": "True",
    }


def uses_local_server() -> bool:
    """Whether any database setting is left to the embedded default."""
    return any(name not in os.environ for name in DATABASE_VARIABLES)


def configure() -> None:
    """Fill in every unset variable with the local default; start the embedded server if used."""
    for name, value in airflow_environment().items():
        os.environ.setdefault(name, value)
    if uses_local_server():
        server.start()
        for name, value in server.local_environment().items():
            os.environ.setdefault(name, value)


def connection_url(conn_id: str) -> str:
    """The URL of an Airflow connection given in the environment."""
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    try:
        return os.environ[variable]
    except KeyError:
        raise RuntimeError(f"{variable} is not set; run through `segments` or export it.") from None


def source_url() -> str:
    return connection_url(SOURCE_CONN_ID)


def warehouse_url() -> str:
    return connection_url(WAREHOUSE_CONN_ID)


def analyst_url() -> str:
    """The warehouse as the read-only analyst role: SEGMENTS_ANALYST_URL, else the local server's role."""
    if "SEGMENTS_ANALYST_URL" in os.environ:
        return os.environ["SEGMENTS_ANALYST_URL"]
    if warehouse_url() == server.url(server.DATABASES["warehouse"]):
        return server.analyst_url(server.DATABASES["warehouse"])
    raise RuntimeError(
        "SEGMENTS_ANALYST_URL is not set: export the warehouse's URL for the read-only role "
        "(postgresql://segments_analyst:...@host:5432/segment_warehouse); exports never run with write access."
    )


def ensure_airflow_metadata() -> None:
    """Create or upgrade Airflow's metadata database when it is not at the installed Airflow's revision."""
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # Only PostgreSQL can be asked cheaply; any other database is always migrated (`db migrate` is idempotent).
    if url.startswith("postgresql") and _metadata_revisions(url) == _installed_airflow_revisions():
        return
    print("Migrating Airflow's metadata database to the installed Airflow (first run or after an upgrade)...",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)


def _installed_airflow_revisions() -> set[str]:
    """The migration revisions the installed Airflow expects, read from its own migration scripts."""
    import airflow
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(Path(airflow.__file__).parent / "migrations")).get_heads())


def _metadata_revisions(url: str) -> set[str]:
    """The revisions the metadata database is at; none before its first migration."""
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            return {row["version_num"] for row in queries.fetch_all(conn, "reads/airflow_metadata_revisions.sql")}
    except psycopg.errors.UndefinedTable:
        return set()
    except psycopg.OperationalError as error:
        raise RuntimeError(
            f"Cannot reach Airflow's metadata database: {error}. "
            "Check AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, or run `segments db start` for the local one."
        ) from error


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for a while (a stack with databases of its own), then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
