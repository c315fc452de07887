-- Where the body key epoch in force at the end of each peer's log began
-- (docs/PROTOCOL.md, "Envelope"): the index of the entry that carries its
-- encapsulation, 0 for none. A restarted station derives the epoch's key
-- again from that entry with its own keys; the key itself is never
-- stored.
ALTER TABLE logs ADD COLUMN epoch_from BIGINT NOT NULL DEFAULT 0;
