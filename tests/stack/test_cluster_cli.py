"""`make citus` and `segments cluster`: the build is cached, a missing compiler is named, and the
cluster starts, reports and stops through the command people use."""

from __future__ import annotations

import functools
import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading

import psycopg
import pytest

from segments.settings import CITUS_VERSION
from segments.tools import citus, cli, cluster, server


def test_a_second_build_only_reuses_the_cached_one(citus_built, capsys) -> None:
    assert cli.main(["cluster", "build"]) == 0
    assert "built before" in capsys.readouterr().err


def test_a_missing_compiler_is_named_with_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(citus.CitusBuildError, match=r"a C compiler \(gcc or cc\) and make.*build-essential"):
        citus.require_compiler()


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server holding a Citus "release" whose configure stops with a known message."""
    served = tmp_path / "mirror"
    served.mkdir()
    configure = b"#!/bin/sh\necho 'configure of the downloaded release ran'\nexit 3\n"
    with tarfile.open(served / f"v{CITUS_VERSION}.tar.gz", "w:gz") as archive:
        entry = tarfile.TarInfo(f"citus-{CITUS_VERSION}/configure")
        entry.size, entry.mode = len(configure), 0o755
        archive.addfile(entry, io.BytesIO(configure))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=served)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def build_without_the_local_source(tmp_path, download_url: str) -> subprocess.CompletedProcess:
    """`segments cluster build` with no source tarball on disk and nothing cached: it must download."""
    env = {**os.environ, "SEGMENTS_CITUS_SOURCE": str(tmp_path / "absent.tar.gz"),
           "SEGMENTS_CITUS_DOWNLOAD_URL": download_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "segments.tools.cli", "cluster", "build"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_an_absent_source_is_downloaded_and_built(tmp_path, mirror) -> None:
    url = f"{mirror}/v{CITUS_VERSION}.tar.gz"
    result = build_without_the_local_source(tmp_path, url)
    assert result.returncode == 2, result.stderr
    assert f"absent: downloading Citus {CITUS_VERSION} from {url}" in result.stderr
    # The downloaded archive was unpacked and its configure run; its failure is shown, not a traceback.
    assert "Citus configure failed (exit 3)" in result.stderr
    assert "configure of the downloaded release ran" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any((tmp_path / "cache" / "segments").glob("citus-*-pg*/*")), "a failed build must cache nothing"


def test_a_download_that_fails_says_where_to_put_the_source(tmp_path, mirror) -> None:
    result = build_without_the_local_source(tmp_path, f"{mirror}/no-such-release.tar.gz")
    assert result.returncode == 2
    assert "Could not download" in result.stderr and "404" in result.stderr
    assert "SEGMENTS_CITUS_SOURCE" in result.stderr and "make citus" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cluster_starts_reports_its_workers_and_stops(citus_built, capsys) -> None:
    assert cli.main(["cluster", "start", "--workers", "2"]) == 0
    started = capsys.readouterr().out
    assert started.count("worker       running") == 2
    assert "active workers registered with the coordinator: 2" in started
    assert cli.main(["cluster", "status"]) == 0
    reported = capsys.readouterr().out
    # The warehouse line never shows the password, and a shell that runs it can connect.
    assert server.superuser_password() not in started + reported
    (export_line,) = [line.split(None, 1)[1] for line in reported.splitlines() if line.startswith("warehouse ")]
    url = subprocess.run(["bash", "-c", f"{export_line} && printf %s \"$AIRFLOW_CONN_SEGMENT_WAREHOUSE\""],
                         capture_output=True, text=True, check=True).stdout
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from pg_dist_node where noderole = 'primary'").fetchone()[0] == 3
    assert cli.main(["cluster", "stop"]) == 0
    stopped = capsys.readouterr().out
    assert " running " not in stopped and stopped.count("stopped") == 3
    assert cli.main(["cluster", "status"]) == 1


def segments_cluster(action: str, citus_port: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGMENTS_CITUS_PORT": str(citus_port)}
    return subprocess.run([sys.executable, "-m", "segments.tools.cli", "cluster", action], env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_cluster_started_on_other_ports_keeps_its_workers_and_their_shards(citus_built) -> None:
    default_port = cluster.coordinator().port
    cluster.recreate_warehouse(2)
    with psycopg.connect(cluster.warehouse_url(), autocommit=True) as conn:
        conn.execute("create table placed (id int primary key)")
        conn.execute("select create_distributed_table('placed', 'id')")
        conn.execute("insert into placed select generate_series(1, 100)")
    cluster.stop()
    try:
        for port in (default_port + 20, default_port):  # moved, then back for the other tests
            started = segments_cluster("start", port)
            assert started.returncode == 0, started.stderr
            assert f"worker       running  port {port + 2}" in started.stdout
            assert "active workers registered with the coordinator: 2" in started.stdout
            with psycopg.connect(server.url(cluster.WAREHOUSE, port=port)) as conn:
                workers = conn.execute("select nodeport from pg_dist_node where groupid > 0 order by 1").fetchall()
                assert workers == [(port + 1,), (port + 2,)]
                assert conn.execute("select count(*) from placed").fetchone()[0] == 100
            assert segments_cluster("stop", port).returncode == 0
    finally:
        cluster.stop()
