-- Days whose raw lines changed since their models were last rebuilt.
select invoice_day from internal.pending_days order by invoice_day
