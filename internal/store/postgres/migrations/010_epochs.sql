-- The key of the body key epoch in force at the end of each peer's log
-- (docs/PROTOCOL.md, "Key epochs"): entries that begin no epoch open
-- with it, after a restart too.
ALTER TABLE logs ADD COLUMN epoch BYTEA;
