CREATE TABLE peers (
	name        TEXT PRIMARY KEY,
	party       TEXT NOT NULL,
	card        BLOB NOT NULL,
	fingerprint TEXT NOT NULL,
	added_at    INTEGER NOT NULL
);
;
CREATE TABLE channels (
	id         TEXT PRIMARY KEY,
	peer       TEXT NOT NULL REFERENCES peers(name),
	level      TEXT NOT NULL,
	state      TEXT NOT NULL,
	proposer   TEXT NOT NULL,
	charter    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
;
CREATE TABLE entries (
	channel     TEXT NOT NULL,
	author      TEXT NOT NULL,
	idx         INTEGER NOT NULL,
	kind        INTEGER NOT NULL,
	precedence  INTEGER NOT NULL,
	sender_time INTEGER NOT NULL,
	stored_at   INTEGER NOT NULL,
	raw         BLOB NOT NULL,
	body        BLOB NOT NULL,
	root        BLOB NOT NULL,
	PRIMARY KEY (channel, author, idx)
) WITHOUT ROWID;
;
CREATE TABLE logs (
	channel      TEXT NOT NULL,
	author       TEXT NOT NULL,
	size         INTEGER NOT NULL,
	hashes       BLOB NOT NULL,
	checkpoint   BLOB,
	receipt      BLOB,
	receipt_size INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, author)
) WITHOUT ROWID;
;
CREATE TABLE acks (
	channel    TEXT NOT NULL,
	author     TEXT NOT NULL,
	idx        INTEGER NOT NULL,
	ack_author TEXT NOT NULL,
	ack_idx    INTEGER NOT NULL,
	by_name    TEXT NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (channel, author, idx)
) WITHOUT ROWID;
;
CREATE TABLE alerts (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	at      INTEGER NOT NULL,
	level   TEXT NOT NULL,
	channel TEXT NOT NULL,
	peer    TEXT NOT NULL,
	text    TEXT NOT NULL
);
