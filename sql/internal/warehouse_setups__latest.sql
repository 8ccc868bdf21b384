-- The fingerprint of the setup the warehouse applied last (no row before its first setup).
select fingerprint
from internal.warehouse_setups
order by setup_id desc
limit 1
