delete from segments.segment_migrations where as_of_date = %(as_of_date)s
