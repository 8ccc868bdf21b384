delete from segments.line_accounting where as_of_date = %(as_of_date)s
