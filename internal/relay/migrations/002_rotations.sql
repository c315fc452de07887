CREATE TABLE rotated (
	old_key   BLOB PRIMARY KEY,
	new_key   BLOB NOT NULL,
	name      TEXT NOT NULL,
	at        INTEGER NOT NULL,
	statement BLOB NOT NULL
)
