-- Forget the features of this snapshot before rebuilding them.
delete from intermediate.int_customer_features
where as_of_date = %(as_of_date)s
