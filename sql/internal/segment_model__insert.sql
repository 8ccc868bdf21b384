-- A fitted model stored as data: scaler parameters, metrics, k-selection curve, versions.
insert into internal.segment_models (
    run_id, as_of_date, k, features, scaler, metrics, k_selection, training_customers, library_versions
) values (
    %(run_id)s, %(as_of_date)s, %(k)s, %(features)s, %(scaler)s, %(metrics)s, %(k_selection)s,
    %(training_customers)s, %(library_versions)s
)
