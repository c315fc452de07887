-- The station's key files, sealed under the key-encryption key each of
-- its machines holds (keys/store.kek), so that a standby takes over with
-- the keys of the latest key change (internal/station/keyvault.go).
CREATE TABLE sealed_keys (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	sealed BYTEA NOT NULL
)
