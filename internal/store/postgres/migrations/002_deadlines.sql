ALTER TABLE channels ADD COLUMN suspensions TEXT NOT NULL DEFAULT ''
;
ALTER TABLE channels ADD COLUMN last_check BIGINT NOT NULL DEFAULT 0
;
ALTER TABLE channels ADD COLUMN last_check_at BIGINT NOT NULL DEFAULT 0
;
CREATE TABLE escalations (
	channel TEXT NOT NULL,
	author  TEXT NOT NULL,
	idx     BIGINT NOT NULL,
	step    INTEGER NOT NULL,
	at      BIGINT NOT NULL,
	detail  TEXT NOT NULL,
	PRIMARY KEY (channel, author, idx, step)
)
;
CREATE TABLE probes (
	channel  TEXT NOT NULL,
	hour     BIGINT NOT NULL,
	sent     BIGINT NOT NULL,
	answered BIGINT NOT NULL,
	rtt      BIGINT NOT NULL,
	PRIMARY KEY (channel, hour)
)
