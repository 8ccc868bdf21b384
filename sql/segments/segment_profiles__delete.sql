delete from segments.segment_profiles where as_of_date = %(as_of_date)s
