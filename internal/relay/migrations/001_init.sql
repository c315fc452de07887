CREATE TABLE stations (
	key         BLOB PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	party       TEXT NOT NULL,
	card        BLOB NOT NULL,
	fingerprint TEXT NOT NULL,
	added_at    INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL DEFAULT 0
);
;
CREATE TABLE mail (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	recipient    BLOB NOT NULL,
	sender       BLOB NOT NULL,
	deposited_at INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	payload      BLOB NOT NULL
);
;
CREATE INDEX mail_recipient ON mail (recipient, id);
;
CREATE INDEX mail_deposited ON mail (deposited_at);
;
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
