-- Keep the settings the views and comments read in step with the pipeline's configuration.
insert into internal.warehouse_settings (business_timezone, report_page_url, currency)
values (%(business_timezone)s, %(report_page_url)s, %(currency)s)
on conflict (one_row) do update
set business_timezone = excluded.business_timezone, report_page_url = excluded.report_page_url,
    currency = excluded.currency
where (internal.warehouse_settings.business_timezone, internal.warehouse_settings.report_page_url,
       internal.warehouse_settings.currency)
      is distinct from (excluded.business_timezone, excluded.report_page_url, excluded.currency)
