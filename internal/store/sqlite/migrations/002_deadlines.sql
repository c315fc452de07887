ALTER TABLE channels ADD COLUMN suspensions TEXT NOT NULL DEFAULT ''
;
ALTER TABLE channels ADD COLUMN last_check INTEGER NOT NULL DEFAULT 0
;
ALTER TABLE channels ADD COLUMN last_check_at INTEGER NOT NULL DEFAULT 0
;
CREATE TABLE escalations (
	channel TEXT NOT NULL,
	author  TEXT NOT NULL,
	idx     INTEGER NOT NULL,
	step    INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	detail  TEXT NOT NULL,
	PRIMARY KEY (channel, author, idx, step)
) WITHOUT ROWID
;
CREATE TABLE probes (
	channel  TEXT NOT NULL,
	hour     INTEGER NOT NULL,
	sent     INTEGER NOT NULL,
	answered INTEGER NOT NULL,
	rtt      INTEGER NOT NULL,
	PRIMARY KEY (channel, hour)
) WITHOUT ROWID
