-- The station's lease: which of the processes sharing this database is
-- active, until when, and the fencing token every write checks (see
-- docs/ARCHITECTURE.md, "Several machines"). One row; holder '' and an
-- expiry in the past mean free.
CREATE TABLE lease (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	holder     TEXT NOT NULL,
	token      BIGINT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
)
;
INSERT INTO lease (id, holder, token, expires_at) VALUES (1, '', 0, 'epoch')
