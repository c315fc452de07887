-- Acts addressed to several parties at once (docs/OPERATIONS.md,
-- "A multilateral network"): the groups of peers a station names, and
-- each broadcast with the entry written for each party or why none was.
CREATE TABLE peer_groups (
	name       TEXT PRIMARY KEY,
	peers      TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE broadcasts (
	seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	precedence TEXT NOT NULL,
	at         BIGINT NOT NULL,
	addressed  TEXT NOT NULL,
	summary    TEXT NOT NULL
);
CREATE TABLE broadcast_parties (
	broadcast TEXT NOT NULL,
	pos       INTEGER NOT NULL,
	peer      TEXT NOT NULL,
	channel   TEXT NOT NULL,
	entry     TEXT NOT NULL,
	refused   TEXT NOT NULL,
	PRIMARY KEY (broadcast, peer)
);
-- The introductions peers were pinned on (identity.Introduction): another
-- peer's signed word, and the person here who took it.
CREATE TABLE introductions (
	peer         TEXT PRIMARY KEY,
	introducer   TEXT NOT NULL,
	statement    BYTEA NOT NULL,
	confirmed_by TEXT NOT NULL,
	at           BIGINT NOT NULL
);
