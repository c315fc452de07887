-- The key of each body key epoch of either log, by the entry that began
-- it (docs/PROTOCOL.md, "Envelope"). From it the station derives one
-- entry's own key, to disclose that entry alone (hotline export
-- --disclose). It is as secret as the bodies, which this store holds
-- opened; a station kept no epoch key before this, and cannot disclose
-- the entries of epochs begun before it.
CREATE TABLE epoch_keys (
	channel  TEXT NOT NULL,
	author   TEXT NOT NULL,
	from_idx INTEGER NOT NULL,
	key      BLOB NOT NULL,
	PRIMARY KEY (channel, author, from_idx)
);
