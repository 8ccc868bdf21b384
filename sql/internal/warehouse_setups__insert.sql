insert into internal.warehouse_setups (fingerprint) values (%(fingerprint)s)
