"""`segments evaluate` on small planted shops, through the pipeline's own stages: the table and
its JSON, and segment names that follow the planted behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from segments.pipeline import model
from segments.pipeline.model import BOTTOM_NAME, TOP_NAME
from segments.settings import Settings
from segments.tools import cli, evaluate, generate, server


def test_segments_evaluate_prints_one_table_and_writes_it_as_json(tmp_path, capsys) -> None:
    output = tmp_path / "evaluation.json"
    arguments = ["evaluate", "--candidates", "default", "--mixes", "rare_vips", "--seeds", "1,2",
                 "--lines", "60000", "--customers", "800", "--output", str(output)]
    assert cli.main(arguments) == 0

    printed = capsys.readouterr().out
    result = json.loads(output.read_text())
    (row,) = result["rows"]
    default = evaluate.default_candidate(Settings()).label
    assert row["candidate"] == default == result["chosen"]
    assert f"→ {default}" in printed and f"Default: {default}" in printed
    assert [(score["mix"], score["seed"]) for score in row["planted"]] == [("rare_vips", 1), ("rare_vips", 2)]
    assert all(0 < score["ari"] <= 1 and score["k"] == 5 for score in row["planted"])
    assert row["planted_ari_mean"] == pytest.approx(sum(s["ari"] for s in row["planted"]) / 2)
    assert 0 < result["supervised_ceiling_ari"] <= 1
    assert row["real"] is None and "—" in printed  # no real-data evidence without --real


def test_two_evaluations_at_once_each_finish_and_leave_no_scratch_database(tmp_path) -> None:
    """Each call works in scratch databases of its own: a second call does not drop the first's
    (with shared names, the second call's fresh start ended the first's sessions halfway), and a
    killed call's leftovers are dropped by the next call."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = f"{evaluate.SCRATCH_DATABASE_PREFIX}{finished.stdout.strip()}_warehouse"  # a process that is gone
    server.create_database(abandoned)
    outputs = [tmp_path / f"evaluation_{call}.json" for call in (1, 2)]
    calls = [subprocess.Popen(
        [sys.executable, "-m", "segments.tools.cli", "evaluate", "--candidates", "default", "--mixes", "rare_vips",
         "--seeds", "1", "--lines", "40000", "--customers", "600", "--output", str(output)],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) for output in outputs]
    for call in calls:
        out, err = call.communicate(timeout=600)
        assert call.returncode == 0, err[-2000:]
        assert "Default: " in out
    results = [json.loads(output.read_text()) for output in outputs]
    assert results[0]["rows"] == results[1]["rows"]  # the same shop, seed and candidate: the same scores
    assert server.databases_starting_with(evaluate.SCRATCH_DATABASE_PREFIX) == []


def test_unknown_mixes_are_refused_with_the_known_ones(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--mixes", "balanced,uniform"])
    assert "unknown uniform; choose from balanced, rare_vips" in capsys.readouterr().err


@pytest.mark.parametrize("mix", ["balanced", "rare_vips"])
def test_the_naming_rules_give_each_planted_archetype_its_expected_name(mix) -> None:
    # The segments are the archetypes themselves (what a perfect clustering would find), with the
    # features the pipeline computes: every archetype must get a name that describes it, so that
    # lapsed former regulars are "At-Risk Loyal" although their spend ranks them in the middle.
    frame, truth = evaluate.planted_data(mix, 4, Settings(), lines=150_000, customers=1_500)
    archetypes = truth.loc[frame.index]
    codes, kinds = pd.factorize(archetypes)
    names = {kinds[code]: name for code, name in model.name_segments(frame, codes).items()}
    for archetype, name in names.items():
        assert name in generate.ARCHETYPES[archetype].expected_names, (archetype, name)
    assert names["wholesale_vip"] == TOP_NAME and names["one_off"] == BOTTOM_NAME
    assert names["lapsed_regular"] == "At-Risk Loyal"
