"""The real UCI file loads line for line (moved from pipeline/test_load.py)."""

from __future__ import annotations

import pytest

from segments.tools import load


@pytest.mark.real_data
def test_real_file_loads_exactly_541909_lines(source, real_data):
    assert load.load_file(source, real_data).lines == 541_909
    assert source.execute("select count(*) from retail.invoice_lines").fetchone()[0] == 541_909
