-- What the current snapshot rests on: invoice lines per class and reason, and their share.
select
    line_class,
    exclusion_reason,
    lines,
    round(lines::numeric / sum(lines) over (), 4) as line_share
from segments.line_accounting
where scope = 'snapshot'
  and as_of_date = (select max(as_of_date) from segments.segment_profiles_current)
order by lines desc
