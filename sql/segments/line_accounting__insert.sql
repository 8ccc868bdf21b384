-- Every line accounted for: the lines this run extracted (its re-read window), all lines the
-- snapshot rests on (dated before as_of_date, plus undated lines in quarantine), and the source
-- lines dated after the run started (quarantined until their date comes; only when there are any).
insert into segments.line_accounting (as_of_date, scope, line_class, exclusion_reason, lines)

with extracted as (

    select 'extracted' as scope, line_class, coalesce(exclusion_reason, '') as exclusion_reason, sum(lines) as lines
    from intermediate.int_line_class_daily
    where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
       or invoice_day is null
    group by line_class, coalesce(exclusion_reason, '')

),

snapshot as (

    select 'snapshot' as scope, line_class, coalesce(exclusion_reason, '') as exclusion_reason, sum(lines) as lines
    from intermediate.int_line_class_daily
    where invoice_day < %(as_of_date)s or invoice_day is null
    group by line_class, coalesce(exclusion_reason, '')

)

select %(as_of_date)s::date, * from extracted
union all
select %(as_of_date)s::date, * from snapshot
union all
select %(as_of_date)s::date, 'future', 'invalid', 'dated after the run started', %(source_lines_dated_after_run)s::bigint
where %(source_lines_dated_after_run)s > 0
