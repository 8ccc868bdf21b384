"""`make citus` and `segments cluster`: the build is cached, a missing compiler is named, and the
cluster starts, reports and stops through the command people use."""

from __future__ import annotations

import pytest

from segments.tools import citus, cli


def test_a_second_build_only_reuses_the_cached_one(citus_built, capsys) -> None:
    assert cli.main(["cluster", "build"]) == 0
    assert "built before" in capsys.readouterr().err


def test_a_missing_compiler_is_named_with_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(citus.CitusBuildError, match=r"a C compiler \(gcc or cc\) and make.*build-essential"):
        citus.require_compiler()


def test_the_cluster_starts_reports_its_workers_and_stops(citus_built, capsys) -> None:
    assert cli.main(["cluster", "start", "--workers", "2"]) == 0
    started = capsys.readouterr().out
    assert started.count("worker       running") == 2
    assert "active workers registered with the coordinator: 2" in started
    assert cli.main(["cluster", "status"]) == 0
    capsys.readouterr()
    assert cli.main(["cluster", "stop"]) == 0
    stopped = capsys.readouterr().out
    assert " running " not in stopped and stopped.count("stopped") == 3
    assert cli.main(["cluster", "status"]) == 1
