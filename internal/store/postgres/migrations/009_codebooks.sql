-- Codebook extensions the station has loaded (docs/DECONFLICTION.md):
-- the file as given, under the reference of the codebook it makes.
CREATE TABLE codebooks (
	id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ref      TEXT NOT NULL UNIQUE,
	file     BYTEA NOT NULL,
	added_at BIGINT NOT NULL
);
