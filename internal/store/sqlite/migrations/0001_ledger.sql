-- The ledger: entries, the Merkle tree's stored hashes, signed checkpoints.

-- One row per ledger entry. idx is the entry's position in the global Merkle
-- tree (Entry.Index), dense from 0; (session_id, seq) is its position in its
-- session's hash chain.
CREATE TABLE ledger_entries (
	idx        INTEGER PRIMARY KEY CHECK (idx >= 0),
	session_id TEXT    NOT NULL,
	seq        INTEGER NOT NULL CHECK (seq >= 1),
	ts         TEXT    NOT NULL,
	type       TEXT    NOT NULL,
	data       TEXT    NOT NULL,
	prev       TEXT    NOT NULL,
	hash       TEXT    NOT NULL,
	UNIQUE (session_id, seq)
) STRICT;

-- The tree's stored hashes, keyed by tlog storage index
-- (golang.org/x/mod/sumdb/tlog.StoredHashIndex), dense from 0.
CREATE TABLE ledger_hashes (
	idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
	hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Signed checkpoints of the tree, in the order they were saved.
CREATE TABLE ledger_checkpoints (
	id     INTEGER PRIMARY KEY,
	origin TEXT    NOT NULL,
	size   INTEGER NOT NULL CHECK (size >= 0),
	root   BLOB    NOT NULL CHECK (length(root) = 32),
	note   BLOB    NOT NULL,
	time   TEXT    NOT NULL
) STRICT;

CREATE INDEX ledger_checkpoints_size ON ledger_checkpoints (size, id);
