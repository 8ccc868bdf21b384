"""Connections: always autocommit, so that every `conn.transaction()` block is a real transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

Connection = TypeVar("Connection")
RECONNECT_INTERVAL_SECONDS = 1.0


def connect_url(url: str) -> psycopg.Connection:
    """Connect to a PostgreSQL URL."""
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise ConnectionError(
            f"Cannot reach PostgreSQL at {_redacted(url)}: {error}. "
            "Is the server running (`segments db start` for the local one) and is the connection right?"
        ) from error


def connect(conn_id: str, wait_seconds: float = 0) -> psycopg.Connection:
    """Connect through an Airflow connection, as set in the environment (AIRFLOW_CONN_<ID>).

    A server that refuses connections is asked again for up to `wait_seconds` (a restart).
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    try:
        conn = retry_connecting(PostgresHook(postgres_conn_id=conn_id).get_conn, wait_seconds, psycopg.OperationalError)
    except psycopg.OperationalError as error:
        raise ConnectionError(
            f"Cannot reach the database of Airflow connection {conn_id!r}: {error}. "
            f"Check AIRFLOW_CONN_{conn_id.upper()} and that the server is up."
        ) from error
    conn.autocommit = True
    return conn


def retry_connecting(
    connect: Callable[[], Connection], wait_seconds: float, refused: type[Exception]
) -> Connection:
    """`connect()`, asked again while it fails with `refused`, for up to `wait_seconds`: a restarting server comes back."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return connect()
        except refused:
            if time.monotonic() >= deadline:
                raise
            time.sleep(RECONNECT_INTERVAL_SECONDS)


def _redacted(url: str) -> str:
    """The connection string without its password, whether a URL or key=value pairs."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(a connection string that does not parse)"
    if "password" in params:
        params["password"] = "***"
    return psycopg.conninfo.make_conninfo(**params)
