-- The snapshot's run record: model, quality, line and customer accounting, timings.
insert into segments.segmentation_runs (
    as_of_date, run_id, k, model_features, inertia, silhouette, davies_bouldin, calinski_harabasz,
    segment_sizes, lines_extracted, extract_window_start, extract_window_end,
    lines_in_snapshot, lines_used, lines_excluded, lines_quarantined,
    customers_segmented, customers_excluded, customers_changed_segment, stage_seconds, published_at,
    predecessor_as_of_date, changed_days_reextracted, source_lines_dated_after_run, bootstrap_stability
)

with snapshot_lines as (

    select
        sum(lines)                                                                   as lines_in_snapshot,
        coalesce(sum(lines) filter (where line_class in ('purchase', 'return')), 0)  as lines_used,
        coalesce(sum(lines) filter (where line_class in ('duplicate', 'no_customer', 'non_product')), 0) as lines_excluded,
        coalesce(sum(lines) filter (where line_class = 'invalid'), 0)                as lines_quarantined
    from segments.line_accounting
    where as_of_date = %(as_of_date)s and scope = 'snapshot'

),

extracted_lines as (

    select coalesce(sum(lines), 0) as lines_extracted
    from segments.line_accounting
    where as_of_date = %(as_of_date)s and scope = 'extracted'

),

models as (

    select *
    from internal.segment_models
    where run_id = %(run_id)s

)

select
    %(as_of_date)s::date,
    %(run_id)s::text,
    models.k,
    models.features,
    (models.metrics ->> 'inertia')::float8,
    (models.metrics ->> 'silhouette')::float8,
    (models.metrics ->> 'davies_bouldin')::float8,
    (models.metrics ->> 'calinski_harabasz')::float8,
    models.metrics -> 'segment_sizes',
    extracted_lines.lines_extracted,
    %(window_start)s::timestamp,
    %(window_end)s::timestamp,
    snapshot_lines.lines_in_snapshot,
    snapshot_lines.lines_used,
    snapshot_lines.lines_excluded,
    snapshot_lines.lines_quarantined,
    %(customers_segmented)s::integer,
    %(customers_excluded)s::integer,
    (models.metrics ->> 'customers_changed_segment')::integer,
    %(stage_seconds)s::jsonb,
    now(),
    (models.metrics ->> 'predecessor_as_of_date')::date,
    %(changed_days_reextracted)s::integer,
    %(source_lines_dated_after_run)s::bigint,
    (models.metrics ->> 'bootstrap_stability')::float8
from models, snapshot_lines, extracted_lines

on conflict (as_of_date) do update set
    run_id = excluded.run_id,
    k = excluded.k,
    model_features = excluded.model_features,
    inertia = excluded.inertia,
    silhouette = excluded.silhouette,
    davies_bouldin = excluded.davies_bouldin,
    calinski_harabasz = excluded.calinski_harabasz,
    segment_sizes = excluded.segment_sizes,
    lines_extracted = excluded.lines_extracted,
    extract_window_start = excluded.extract_window_start,
    extract_window_end = excluded.extract_window_end,
    lines_in_snapshot = excluded.lines_in_snapshot,
    lines_used = excluded.lines_used,
    lines_excluded = excluded.lines_excluded,
    lines_quarantined = excluded.lines_quarantined,
    customers_segmented = excluded.customers_segmented,
    customers_excluded = excluded.customers_excluded,
    customers_changed_segment = excluded.customers_changed_segment,
    stage_seconds = excluded.stage_seconds,
    published_at = excluded.published_at,
    predecessor_as_of_date = excluded.predecessor_as_of_date,
    changed_days_reextracted = excluded.changed_days_reextracted,
    source_lines_dated_after_run = excluded.source_lines_dated_after_run,
    bootstrap_stability = excluded.bootstrap_stability
