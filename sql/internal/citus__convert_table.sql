-- Give one table its kind in the Citus layout (citus__layout.sql); its rows move with it. Each
-- conversion commits on its own: Citus reads the tables converted before through connections of
-- its own, which would wait on an open transaction's locks.
select create_reference_table(%(table_name)s) where %(kind)s = 'reference';
select create_distributed_table(%(table_name)s, %(distribution_column)s, colocate_with => %(colocate_with)s)
where %(kind)s = 'distributed'
