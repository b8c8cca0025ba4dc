-- The gateway: sessions, their actions, approvals and votes, and API tokens.
-- Records are JSON documents (body) beside the columns that queries need.

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	state      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	body       TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_owner ON sessions (owner, created_at);

-- created_at is fixed-width UTC text, so that it sorts and compares as time.
CREATE TABLE actions (
	session_id TEXT    NOT NULL REFERENCES sessions (id),
	idx        INTEGER NOT NULL CHECK (idx >= 0),
	id         TEXT    NOT NULL,
	created_at TEXT    NOT NULL,
	body       TEXT    NOT NULL,
	PRIMARY KEY (session_id, idx),
	UNIQUE (session_id, id)
) STRICT;

CREATE INDEX actions_time ON actions (session_id, created_at);

-- Files a session changed, for the distinct-files budget.
CREATE TABLE changed_files (
	session_id TEXT NOT NULL REFERENCES sessions (id),
	path       TEXT NOT NULL,
	PRIMARY KEY (session_id, path)
) STRICT;

CREATE TABLE approvals (
	id         TEXT PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions (id),
	digest     TEXT NOT NULL,
	state      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	body       TEXT NOT NULL
) STRICT;

CREATE INDEX approvals_digest ON approvals (session_id, digest, created_at);
CREATE INDEX approvals_state ON approvals (state, created_at);

-- One row per approver and approval: N of M counts distinct identities by
-- construction, whatever the concurrency.
CREATE TABLE votes (
	approval_id TEXT NOT NULL REFERENCES approvals (id),
	approver    TEXT NOT NULL,
	comment     TEXT NOT NULL,
	at          TEXT NOT NULL,
	PRIMARY KEY (approval_id, approver)
) STRICT;

CREATE TABLE tokens (
	id   TEXT PRIMARY KEY,
	hash TEXT NOT NULL UNIQUE,
	body TEXT NOT NULL
) STRICT;
