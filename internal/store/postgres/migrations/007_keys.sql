CREATE TABLE keys (
	station     TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	card        BYTEA NOT NULL,
	fingerprint TEXT NOT NULL,
	reason      TEXT NOT NULL,
	statement   BYTEA NOT NULL,
	at          BIGINT NOT NULL,
	detail      TEXT NOT NULL,
	PRIMARY KEY (station, seq)
)
;
CREATE TABLE log_keys (
	channel  TEXT NOT NULL,
	author   TEXT NOT NULL,
	from_idx BIGINT NOT NULL,
	seq      BIGINT NOT NULL,
	PRIMARY KEY (channel, author, from_idx)
)
