"""SEGMENTS_WORK_MEM reaches the transactions that sort history, and a bad value is named."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline_helpers import run_stages
from segments.errors import InvalidParameterError
from segments.pipeline import warehouse as warehouse_setup
from segments.settings import Settings
from segments.tools import load

LINE = "500001\t85123A\tHEART\t6\t2011-03-01 10:00:00\t2.55\t10001\tUnited Kingdom\n"


def test_the_work_mem_setting_lasts_as_long_as_the_transaction(warehouse):
    with warehouse.transaction():
        warehouse_setup.use_work_mem(warehouse, "96MB")
        assert warehouse.execute("show work_mem").fetchone()[0] == "96MB"
    assert warehouse.execute("show work_mem").fetchone()[0] != "96MB", "other work on the connection keeps the default"


def test_a_work_mem_postgresql_refuses_fails_the_stage_naming_the_variable(source, warehouse):
    load.copy_into_source(source, [LINE], replace=True)
    with pytest.raises(InvalidParameterError, match=r"SEGMENTS_WORK_MEM='lots' is not a memory size .* such as 512MB"):
        run_stages(source, warehouse, dt.date(2011, 3, 2), settings=Settings(work_mem="lots"), publish=False)
    failed = warehouse.execute("select stage, detail ->> 'error' from internal.run_attempts where status = 'failed'")
    ((stage, error),) = failed.fetchall()
    assert stage == "aggregates" and "SEGMENTS_WORK_MEM" in error
