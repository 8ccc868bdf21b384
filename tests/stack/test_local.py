"""The local environment keeps Airflow's metadata database at the installed Airflow's revision."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import airflow
import psycopg
from alembic.script import ScriptDirectory

from conftest import fresh_database
from segments.tools import cli

METADATA_DATABASE = "test_airflow_metadata"


def test_a_metadata_database_left_behind_by_an_airflow_upgrade_is_migrated(monkeypatch, capsys):
    url = fresh_database(METADATA_DATABASE)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", url.replace("postgresql://", "postgresql+psycopg://"))
    migrations = ScriptDirectory(str(Path(airflow.__file__).parent / "migrations"))
    (head,) = migrations.get_heads()
    previous = migrations.get_revision(head).down_revision
    airflow_db = [sys.executable, "-m", "airflow", "db"]
    subprocess.run([*airflow_db, "migrate"], check=True, capture_output=True)
    # The database as the previous Airflow release left it.
    subprocess.run([*airflow_db, "downgrade", "--to-revision", previous, "--yes"], check=True, capture_output=True)
    assert revisions(url) == {previous}

    assert cli.main(["airflow-cli", "version"]) == 0
    assert revisions(url) == {head}
    assert "Migrating Airflow's metadata database" in capsys.readouterr().err

    assert cli.main(["airflow-cli", "version"]) == 0
    assert "Migrating" not in capsys.readouterr().err


def revisions(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {version for (version,) in conn.execute("select version_num from alembic_version")}
