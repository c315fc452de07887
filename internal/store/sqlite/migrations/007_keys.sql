CREATE TABLE keys (
	station     TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	card        BLOB NOT NULL,
	fingerprint TEXT NOT NULL,
	reason      TEXT NOT NULL,
	statement   BLOB NOT NULL,
	at          INTEGER NOT NULL,
	detail      TEXT NOT NULL,
	PRIMARY KEY (station, seq)
) WITHOUT ROWID
;
CREATE TABLE log_keys (
	channel  TEXT NOT NULL,
	author   TEXT NOT NULL,
	from_idx INTEGER NOT NULL,
	seq      INTEGER NOT NULL,
	PRIMARY KEY (channel, author, from_idx)
) WITHOUT ROWID
