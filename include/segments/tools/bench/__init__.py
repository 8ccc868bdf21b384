"""`make bench`: the pipeline against the notebook it replaces, on the same synthetic data.

For each size (invoice lines of history) the benchmark:

1. generates a deterministic history with `segments.tools.generate` into its own source database
   (`bench_source`): the same customer pool at every size, the history growing longer with
   the size (about `--lines-per-day` lines a day, so 10M lines are a year, 50M five years);
   the day after the history is generated in the same stream and held back (`data`);
2. measures the first full run (as of the day after the history), each stage through the
   plain functions of `segments.pipeline.stages`, in a worker process of its own (peak RSS from
   `wait4`; the PostgreSQL backends serving it are sampled with psutil) (`workers`, `memory`);
3. measures the notebook approach in a worker process: `pd.read_sql("select * from
   retail.invoice_lines")`, clean, recency/frequency/monetary, log1p + StandardScaler,
   KMeans(k=3, n_init=10, random_state=42);
4. compares the pipeline's k=3 segments with the notebook's (adjusted Rand index, and the share
   of customers agreeing after optimally matching the labels) (`agreement`);
5. appends the held-back day to the source and measures the nightly incremental run;
6. reruns that day through Airflow (`dag.test()`, as `segments run` does) to report Airflow's
   fixed cost: its wall time minus the stage times it recorded.

`measure` runs these steps for one size, `targets` judges the measurements, `render` writes
them; `backfill` is the separate case of `--backfill-days` (the real data through the local
scheduler); `cli` is the command line (`python -m segments.tools.bench`).

Results: `<out>/bench.md` (also printed), `<out>/bench.json` (raw numbers), `<out>/bench.png`.
Targets are evaluated from the measurements and printed PASS/FAIL; nothing is hard-coded.
Exit status: 0 when every measurement ran (whatever the targets say; a notebook that runs out of
memory is a result), 1 when one failed.
"""
