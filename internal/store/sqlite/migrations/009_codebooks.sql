-- Codebook extensions the station has loaded (docs/DECONFLICTION.md):
-- the file as given, under the reference of the codebook it makes.
CREATE TABLE codebooks (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	ref      TEXT NOT NULL UNIQUE,
	file     BLOB NOT NULL,
	added_at INTEGER NOT NULL
);
