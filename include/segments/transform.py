"""Incremental models: classify the re-read window's lines and refresh the daily aggregates.

Only the days of the extract window are rewritten, so the nightly cost follows the window,
not the length of history.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from segments import queries
from segments.extract import ExtractWindow
from segments.settings import NON_PRODUCT_STOCK_CODE_PREFIXES, NON_PRODUCT_STOCK_CODES, Settings

# Rebuilt for the window, in dependency order: each (delete, insert) pair reads the models before it.
WINDOW_MODELS = (
    "int_invoice_lines_classified",
    "int_customer_daily",
    "int_customer_product_days",
    "int_line_class_daily",
)


@dataclass(frozen=True)
class LineCount:
    line_class: str
    exclusion_reason: str
    lines: int


def classification_params(settings: Settings) -> dict:
    """Rule parameters of the line classification."""
    return {
        "max_abs_quantity": settings.max_abs_quantity,
        "non_product_codes": list(NON_PRODUCT_STOCK_CODES),
        # LIKE patterns: an escaped underscore matches itself, not any character.
        "non_product_patterns": [prefix.replace("_", "\\_") + "%" for prefix in NON_PRODUCT_STOCK_CODE_PREFIXES],
    }


def refresh_window(warehouse: psycopg.Connection, window: ExtractWindow, settings: Settings) -> list[LineCount]:
    """Rebuild the window's rows of every incremental model; return the window's line counts."""
    params = {**window.params(), **classification_params(settings)}
    with warehouse.transaction():
        queries.execute(warehouse, "setup/lock_warehouse_writes.sql")
        for model in WINDOW_MODELS:
            queries.execute(warehouse, f"intermediate/{model}__delete.sql", params)
            queries.execute(warehouse, f"intermediate/{model}__insert.sql", params)
    queries.execute(warehouse, "intermediate/analyze_window_models.sql")
    return [LineCount(**row) for row in queries.fetch_all(warehouse, "intermediate/window_line_counts.sql", params)]
