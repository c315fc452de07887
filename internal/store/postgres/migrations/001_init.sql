CREATE TABLE peers (
	name        TEXT PRIMARY KEY,
	party       TEXT NOT NULL,
	card        BYTEA NOT NULL,
	fingerprint TEXT NOT NULL,
	added_at    BIGINT NOT NULL
);
;
CREATE TABLE channels (
	id         TEXT PRIMARY KEY,
	peer       TEXT NOT NULL REFERENCES peers(name),
	level      TEXT NOT NULL,
	state      TEXT NOT NULL,
	proposer   TEXT NOT NULL,
	charter    BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
;
CREATE TABLE entries (
	channel     TEXT NOT NULL,
	author      TEXT NOT NULL,
	idx         BIGINT NOT NULL,
	kind        INTEGER NOT NULL,
	precedence  INTEGER NOT NULL,
	sender_time BIGINT NOT NULL,
	stored_at   BIGINT NOT NULL,
	raw         BYTEA NOT NULL,
	body        BYTEA NOT NULL,
	root        BYTEA NOT NULL,
	PRIMARY KEY (channel, author, idx)
);
;
CREATE TABLE logs (
	channel      TEXT NOT NULL,
	author       TEXT NOT NULL,
	size         BIGINT NOT NULL,
	hashes       BYTEA NOT NULL,
	checkpoint   BYTEA,
	receipt      BYTEA,
	receipt_size BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, author)
);
;
CREATE TABLE acks (
	channel    TEXT NOT NULL,
	author     TEXT NOT NULL,
	idx        BIGINT NOT NULL,
	ack_author TEXT NOT NULL,
	ack_idx    BIGINT NOT NULL,
	by_name    TEXT NOT NULL,
	at         BIGINT NOT NULL,
	PRIMARY KEY (channel, author, idx)
);
;
CREATE TABLE alerts (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at      BIGINT NOT NULL,
	level   TEXT NOT NULL,
	channel TEXT NOT NULL,
	peer    TEXT NOT NULL,
	text    TEXT NOT NULL
);
