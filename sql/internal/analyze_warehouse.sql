-- Statistics of every warehouse table, as autovacuum would have gathered them in the day between
-- two nightly runs (the bench runs the nightly minutes after the full run).
analyze
