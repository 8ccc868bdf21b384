-- What autovacuum does to every warehouse table in the day between two nightly runs: vacuum
-- (the tables a first run filled are due their first pass) and statistics. The bench runs the
-- nightly minutes after the full run; without this, autovacuum's first pass over the raw lines and
-- the product days overlaps the nightly run, and each of its statements that needs a lock
-- autovacuum holds (its ANALYZEs) waits a second (deadlock_timeout) until autovacuum gives way.
-- Before 864f2b0 its setup did too: a 0.14 s extract measured 2.15-2.18 s in two of five runs.
vacuum (analyze)
