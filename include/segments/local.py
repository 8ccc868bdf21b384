"""The local environment: Airflow and both connections pointed at the embedded server by default.

Anything already set in the environment wins, so the same commands run against any other
PostgreSQL by exporting AIRFLOW_CONN_RETAIL_SOURCE, AIRFLOW_CONN_SEGMENT_WAREHOUSE and
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from segments import server
from segments.settings import LOCAL_DIR, PROJECT_ROOT, SOURCE_CONN_ID, WAREHOUSE_CONN_ID

AIRFLOW_HOME = LOCAL_DIR / "airflow"
DATABASE_VARIABLES = tuple(server.local_environment())


def airflow_environment() -> dict[str, str]:
    """Airflow settings for running the project's DAG from this checkout."""
    return {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "utc",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
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


def ensure_airflow_metadata() -> None:
    """Create or upgrade Airflow's metadata database when it is not at the installed version."""
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    migrated = False
    if url.startswith("postgresql"):
        try:
            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
                migrated = conn.execute("select to_regclass('public.alembic_version') is not null").fetchone()[0]
        except psycopg.OperationalError as error:
            raise RuntimeError(f"Cannot reach Airflow's metadata database: {error}") from error
    if not migrated:
        print("Preparing Airflow's metadata database (first run only)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
