-- Memory for the sorts and hashes of this transaction (the server's default is sized for many
-- small queries): below it a first run's aggregates of the whole history spill to temporary files.
select set_config('work_mem', %(work_mem)s, true)
