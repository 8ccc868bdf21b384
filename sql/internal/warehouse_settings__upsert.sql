-- Keep the settings the views read in step with the pipeline's configuration.
insert into internal.warehouse_settings (business_timezone) values (%(business_timezone)s)
on conflict (one_row) do update set business_timezone = excluded.business_timezone
where internal.warehouse_settings.business_timezone is distinct from excluded.business_timezone
