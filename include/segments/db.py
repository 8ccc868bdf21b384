"""Connections: always autocommit, so that every `conn.transaction()` block is a real transaction."""

from __future__ import annotations

import psycopg


def connect_url(url: str) -> psycopg.Connection:
    """Connect to a PostgreSQL URL."""
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise ConnectionError(
            f"Cannot reach PostgreSQL at {_redacted(url)}: {error}. "
            "Is the server running (`segments db start` for the local one) and is the connection right?"
        ) from error


def connect(conn_id: str) -> psycopg.Connection:
    """Connect through an Airflow connection, as set in the environment (AIRFLOW_CONN_<ID>)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    try:
        conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    except psycopg.OperationalError as error:
        raise ConnectionError(
            f"Cannot reach the database of Airflow connection {conn_id!r}: {error}. "
            f"Check AIRFLOW_CONN_{conn_id.upper()} and that the server is up."
        ) from error
    conn.autocommit = True
    return conn


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':')[0]}:***@{host}" if at else url
