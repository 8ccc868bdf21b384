-- A reader's session (the Airflow page): every later transaction is read-only, so a bug can never write.
set default_transaction_read_only = on
