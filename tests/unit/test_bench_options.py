"""`make bench`'s counts (SNAPSHOTS=, BACKFILL_DAYS=, CLUSTER_WORKERS=): a wrong one is refused
before anything is generated, naming the option."""

from __future__ import annotations

import pytest

from segments.tools.bench import cli

COUNTS = ("--cluster-workers", "--earlier-snapshots", "--backfill-days")


@pytest.mark.parametrize("option", COUNTS)
@pytest.mark.parametrize(("value", "message"), [("-1", "expected 0 (skip) or more, got -1"),
                                                 ("ten", "expected a whole number, got 'ten'")])
def test_a_count_that_is_not_zero_or_more_is_refused_naming_its_option(option, value, message, capsys):
    with pytest.raises(SystemExit) as refused:
        cli.build_parser().parse_args([option, value])
    assert refused.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("option", COUNTS)
def test_zero_skips_the_case(option):
    arguments = cli.build_parser().parse_args([option, "0"])
    assert getattr(arguments, option.removeprefix("--").replace("-", "_")) == 0
