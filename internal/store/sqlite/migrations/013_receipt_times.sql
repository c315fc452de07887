-- When the peer cosigned each receipt of this station's logs, by the
-- time its signature carries (C2SP cosignature/v1), with the size it
-- covered: an entry was first held by the peer at the earliest time of a
-- receipt at least its index. Receipts without a time leave no row.
CREATE TABLE receipt_times (
	channel TEXT NOT NULL,
	author  TEXT NOT NULL,
	size    INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (channel, author, size)
);
