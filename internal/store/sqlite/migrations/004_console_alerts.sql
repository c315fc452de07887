CREATE TABLE console_alerts (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	alert      INTEGER NOT NULL DEFAULT 0,
	kind       TEXT NOT NULL,
	channel    TEXT NOT NULL,
	text       TEXT NOT NULL,
	raised_at  INTEGER NOT NULL,
	cleared_at INTEGER NOT NULL DEFAULT 0,
	ack_by     TEXT NOT NULL DEFAULT '',
	ack_at     INTEGER NOT NULL DEFAULT 0
);
;
CREATE UNIQUE INDEX console_alerts_alert ON console_alerts (alert) WHERE alert <> 0;
;
CREATE INDEX console_alerts_open ON console_alerts (kind, channel) WHERE ack_by = '' OR cleared_at = 0;
