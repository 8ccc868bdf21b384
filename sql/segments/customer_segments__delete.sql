-- Publishing replaces a snapshot as a whole.
delete from segments.customer_segments where as_of_date = %(as_of_date)s
