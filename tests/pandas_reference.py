"""The notebook's way of reading the file and computing RFM: an independent reference for the SQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from segments.settings import NON_PRODUCT_STOCK_CODES


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
