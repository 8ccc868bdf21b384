-- Runs that stopped more than two days ago without a published snapshot (killed, refused by the
-- quality gate, run through the features only, or withdrawn since; no live run is that old),
-- found in the run ledger, a few rows per run: no one will read their features or assignments.
-- (A condition on those rows themselves would read the rows of every published snapshot, every
-- night: a nightly run's features stage took 2.4 s longer after 180 published nights of 80,000
-- customers, and more with each night.)
select run_id
from internal.run_attempts
group by run_id
having max(recorded_at) < now() - interval '2 days'
except
select run_id
from segments.segmentation_runs
