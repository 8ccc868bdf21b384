-- Read the source from one consistent snapshot, never writing to it.
set transaction isolation level repeatable read, read only
