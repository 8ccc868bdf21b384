-- The report header: a published snapshot's run record, with the k-selection curve of its model.
with runs as (

    select *
    from segments.segmentation_runs
    where as_of_date = %(as_of_date)s

),

models as (

    select run_id, k_selection, training_customers
    from internal.segment_models

),

final as (

    select
        runs.as_of_date,
        runs.run_id,
        runs.k,
        runs.model_features,
        runs.inertia,
        runs.silhouette,
        runs.davies_bouldin,
        runs.bootstrap_stability,
        runs.calinski_harabasz,
        runs.segment_sizes,
        runs.lines_extracted,
        runs.lines_in_snapshot,
        runs.lines_used,
        runs.lines_excluded,
        runs.lines_quarantined,
        runs.customers_segmented,
        runs.customers_excluded,
        runs.customers_changed_segment,
        runs.stage_seconds,
        runs.published_at,
        -- model
        models.k_selection,
        models.training_customers,
        settings.currency
    from runs
    left join models using (run_id)
    cross join internal.warehouse_settings as settings

)

select * from final
