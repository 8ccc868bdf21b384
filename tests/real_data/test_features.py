"""The SQL features agree with an independent pandas computation on the real data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pandas_reference import pandas_rfm, read_lines
from pipeline_helpers import run_stages

AS_OF = dt.date(2011, 12, 1)


@pytest.mark.real_data
def test_sql_recency_frequency_monetary_match_pandas_on_real_data(real_source, warehouse, real_data):
    run_stages(real_source, warehouse, AS_OF, publish=False)
    sql = pd.DataFrame(
        warehouse.execute(
            "select customer_id, recency_days, frequency_invoices, monetary_revenue::float8 "
            "from intermediate.int_customer_features where as_of_date = %s and frequency_invoices > 0",
            (AS_OF,),
        ).fetchall(),
        columns=["customer_id", "recency_days", "frequency_invoices", "monetary_revenue"],
    ).set_index("customer_id").sort_index()
    expected = pandas_rfm(read_lines(real_data), AS_OF).sort_index()
    assert len(sql) > 4_000
    assert list(sql.index) == list(expected.index)
    assert (sql["recency_days"] == expected["recency_days"]).all()
    assert (sql["frequency_invoices"] == expected["frequency_invoices"]).all()
    assert np.allclose(sql["monetary_revenue"], expected["monetary_revenue"], atol=0.01)
