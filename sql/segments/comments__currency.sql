-- Money columns name their currency: "the shop's currency" in comments.sql (and the view
-- columns that copy it) becomes the configured SEGMENTS_CURRENCY, after every setup (a changed currency is a changed setup:
-- warehouse.setup_fingerprint).
do $$
declare
    target record;
    currency text := (select currency from internal.warehouse_settings);
begin
    for target in
        select relations.relname as relation_name, columns.attname as column_name,
               col_description(relations.oid, columns.attnum) as description
        from pg_class as relations
        join pg_attribute as columns on columns.attrelid = relations.oid and columns.attnum > 0
        where relations.relnamespace = 'segments'::regnamespace
          and col_description(relations.oid, columns.attnum) like '%the shop''s currency%'
    loop
        execute format('comment on column segments.%I.%I is %L', target.relation_name, target.column_name,
                       replace(target.description, 'the shop''s currency', currency));
    end loop;
end
$$;
