-- Decisions (SPEC §5): each decision's hash-chained events, the state they
-- lead to (cached, updated in the transaction that appends), one row per
-- approving identity, and the immutable templates.

-- The cached state. body is the decision's JSON without its approvals;
-- the other columns are what lists filter and sort on. Times are
-- fixed-width UTC text, so that text order is time order.
CREATE TABLE decisions (
	id          TEXT    PRIMARY KEY,
	event_count INTEGER NOT NULL CHECK (event_count >= 1),
	state       TEXT    NOT NULL,
	requester   TEXT    NOT NULL,
	template    TEXT    NOT NULL,
	session_id  TEXT    NOT NULL,
	labels      TEXT    NOT NULL, -- JSON array of strings
	created_at  TEXT    NOT NULL,
	expires_at  TEXT,             -- NULL when the decision does not expire
	body        TEXT    NOT NULL
) STRICT;

CREATE INDEX decisions_created ON decisions (created_at, id);
CREATE INDEX decisions_state ON decisions (state, created_at, id);
CREATE INDEX decisions_session ON decisions (session_id, created_at);
CREATE INDEX decisions_expiry ON decisions (expires_at) WHERE expires_at IS NOT NULL;

-- The history: seq dense from 0 per decision, each event's prev the
-- previous event's digest.
CREATE TABLE decision_events (
	decision_id TEXT    NOT NULL REFERENCES decisions (id),
	seq         INTEGER NOT NULL CHECK (seq >= 0),
	type        TEXT    NOT NULL,
	ts          TEXT    NOT NULL,
	actor_type  TEXT    NOT NULL,
	actor_id    TEXT    NOT NULL,
	payload     TEXT    NOT NULL,
	prev        TEXT    NOT NULL,
	digest      TEXT    NOT NULL,
	PRIMARY KEY (decision_id, seq)
) STRICT, WITHOUT ROWID;

-- Each identity's latest approval of a decision, so that approving reads
-- and writes one row however many approvals the decision holds.
CREATE TABLE decision_approvals (
	decision_id TEXT NOT NULL REFERENCES decisions (id),
	approver    TEXT NOT NULL,
	body        TEXT NOT NULL,
	PRIMARY KEY (decision_id, approver)
) STRICT, WITHOUT ROWID;

CREATE TABLE decision_templates (
	name       TEXT PRIMARY KEY,
	digest     TEXT NOT NULL,
	labels     TEXT NOT NULL, -- JSON array of strings
	created_at TEXT NOT NULL,
	body       TEXT NOT NULL
) STRICT;
