-- Take the changed days kept for later runs out of the queue (what stays is put back).
delete from internal.source_changed_days
returning invoice_day
