"""The SQL features agree with an independent pandas computation on the real data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline_helpers import run_stages
from segments.settings import NON_PRODUCT_STOCK_CODES

AS_OF = dt.date(2011, 12, 1)


def read_lines(path) -> pd.DataFrame:
    """The raw file, as a notebook would read it."""
    return pd.read_csv(path, dtype={"CustomerID": str, "InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])


def pandas_rfm(all_lines: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Recency, frequency and net monetary value straight from the file's lines, the notebook way."""
    lines = all_lines[all_lines["InvoiceDate"] < pd.Timestamp(as_of)].copy()
    lines["CustomerID"] = lines["CustomerID"].str.replace(r"\.0$", "", regex=True)
    cancellation = lines["InvoiceNo"].str.startswith("C")
    non_product = lines["StockCode"].isin(NON_PRODUCT_STOCK_CODES) | lines["StockCode"].str.startswith(("gift_", "TEST"))
    invalid = (
        (lines["Quantity"] == 0) | (lines["Quantity"].abs() >= 10_000) | (lines["UnitPrice"] < 0)
        | ((lines["UnitPrice"] == 0) & ~non_product) | (~cancellation & (lines["Quantity"] < 0))
        | (cancellation & (lines["Quantity"] > 0))
    )
    duplicate = lines.duplicated(keep="first")
    usable = ~invalid & ~duplicate & lines["CustomerID"].notna() & ~non_product
    lines = lines[usable].assign(revenue=lambda frame: frame["Quantity"] * frame["UnitPrice"])
    purchases = lines[~cancellation[usable]]
    per_customer = purchases.groupby("CustomerID").agg(
        last_purchase=("InvoiceDate", "max"), frequency_invoices=("InvoiceNo", "nunique"), gross=("revenue", "sum"),
    )
    returns = lines[cancellation[usable]].groupby("CustomerID")["revenue"].sum()
    per_customer["monetary_revenue"] = per_customer["gross"] + returns.reindex(per_customer.index, fill_value=0)
    per_customer["recency_days"] = (pd.Timestamp(as_of) - per_customer["last_purchase"].dt.normalize()).dt.days
    return per_customer[["recency_days", "frequency_invoices", "monetary_revenue"]]


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
