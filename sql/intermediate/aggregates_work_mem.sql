-- Memory for the sorts and hashes of this transaction's aggregates (the server default is sized
-- for many small queries): below it they spill to temporary files.
select set_config('work_mem', %(work_mem)s, true)
