-- Statistics for the product days after a rebuild rewrote most of them (a first run, a full
-- refresh), taken inside the rebuilding transaction, before the new products read them back.
-- Without them the planner expects a fraction of the rows and probes the pair index once per
-- product day (7.3 million probes, 14.7 s, on the bench's 10M-line first run) instead of merging
-- the two sides in index order (about 7 s).
analyze intermediate.int_customer_product_days
