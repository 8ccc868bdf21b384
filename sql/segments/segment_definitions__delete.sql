delete from segments.segment_definitions where as_of_date = %(as_of_date)s
