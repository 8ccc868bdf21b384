"""How far the pipeline's segments agree with the notebook's, on the customers both segmented.

SciPy and scikit-learn are imported where they are used, as in the pipeline's own modules: every
worker process of the bench imports this module, and a pipeline worker that had already imported
scikit-learn would time its training stage without the import every real run pays (0.7 s of a
nightly run of about 2 s).
"""

from __future__ import annotations

import pandas as pd

from segments import db, queries


def matching(a, b) -> tuple[pd.DataFrame, list[int], list[int]]:
    """The contingency table of two labellings of the same customers, and the one-to-one pairing
    of their labels (row and column positions) that puts the most customers on its diagonal."""
    from scipy.optimize import linear_sum_assignment

    table = pd.crosstab(a, b)
    rows_matched, columns_matched = linear_sum_assignment(-table.to_numpy())
    return table, list(rows_matched), list(columns_matched)


def matched_share(a, b) -> float:
    """Share of customers in the same segment once two labellings' labels are paired one to one
    (labels are arbitrary on both sides)."""
    table, rows_matched, columns_matched = matching(a, b)
    return float(table.to_numpy()[rows_matched, columns_matched].sum() / len(a))


def agreement(warehouse_url: str, run_id: str, labels_path: str) -> dict:
    """Pipeline k=3 segments of `run_id` vs the notebook's labels: adjusted Rand index, and the
    share of customers in the same segment once the labels are matched one to one (the labels
    themselves are arbitrary on both sides)."""
    from sklearn.metrics import adjusted_rand_score

    with db.connect_url(warehouse_url) as conn:
        rows = queries.fetch_all(conn, "reads/bench_customer_assignments.sql", {"run_id": run_id})
    pipeline = pd.Series({row["customer_id"]: row["segment_id"] for row in rows}, name="pipeline")
    notebook = pd.read_csv(labels_path, dtype={"customer_id": str}).set_index("customer_id")["segment"]
    both = pipeline.index.intersection(notebook.index)
    if len(both) == 0:
        return {"customers_pipeline": len(pipeline), "customers_notebook": len(notebook), "customers_both": 0,
                "adjusted_rand_index": None, "agreement_share": None}
    a, b = pipeline.loc[both].to_numpy(), notebook.loc[both].to_numpy()
    table, rows_matched, columns_matched = matching(a, b)
    return {
        "customers_pipeline": int(len(pipeline)),
        "customers_notebook": int(len(notebook)),
        "customers_both": int(len(both)),
        "adjusted_rand_index": float(adjusted_rand_score(a, b)),
        "agreement_share": matched_share(a, b),
        "contingency": {str(k): {str(c): int(v) for c, v in row.items()} for k, row in table.iterrows()},
        "pipeline_sizes": {str(k): int(v) for k, v in pd.Series(a).value_counts().sort_index().items()},
        "notebook_sizes": {str(k): int(v) for k, v in pd.Series(b).value_counts().sort_index().items()},
        "label_matching": {str(table.index[r]): str(table.columns[c]) for r, c in zip(rows_matched, columns_matched)},
    }
