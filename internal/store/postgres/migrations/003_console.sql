CREATE TABLE operators (
	name          TEXT PRIMARY KEY,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	lang          TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  BIGINT NOT NULL DEFAULT 0
);
;
CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	operator   TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	addr       TEXT NOT NULL
);
;
CREATE INDEX sessions_operator ON sessions (operator);
;
CREATE TABLE audit (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       BIGINT NOT NULL,
	operator TEXT NOT NULL,
	action   TEXT NOT NULL,
	target   TEXT NOT NULL,
	outcome  TEXT NOT NULL,
	detail   TEXT NOT NULL,
	addr     TEXT NOT NULL
);
;
CREATE INDEX audit_operator ON audit (operator, id);
