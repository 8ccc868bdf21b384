-- The models of these days are rebuilt.
delete from internal.pending_days where invoice_day = any(%(days)s)
