-- Per customer and day: purchases and returns of the re-read window.
insert into intermediate.int_customer_daily

with lines as (

    select *
    from pg_temp.int_invoice_lines_classified
    where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
      and line_class in ('purchase', 'return')

),

final as (

    select
        customer_id,
        invoice_day,
        -- purchases
        count(distinct invoice_no) filter (where line_class = 'purchase')       as purchase_invoices,
        count(*) filter (where line_class = 'purchase')                          as purchase_lines,
        coalesce(sum(quantity) filter (where line_class = 'purchase'), 0)        as units_purchased,
        coalesce(sum(line_revenue) filter (where line_class = 'purchase'), 0)    as purchase_revenue,
        -- returns, as positive amounts
        count(distinct invoice_no) filter (where line_class = 'return')         as return_invoices,
        coalesce(-sum(quantity) filter (where line_class = 'return'), 0)         as units_returned,
        coalesce(-sum(line_revenue) filter (where line_class = 'return'), 0)     as returned_revenue

    from lines
    group by customer_id, invoice_day

)

select * from final
;

-- Their customers' totals are recomputed after the rebuild.
insert into pg_temp.int_customers_with_changed_days (customer_id)
select customer_id
from intermediate.int_customer_daily
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
