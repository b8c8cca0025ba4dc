// Package sqlite is Warden's embedded store: one SQLite file (by default
// .warden/warden.db) shared by every Warden process of a project, through
// the pure-Go driver modernc.org/sqlite, so the binary needs no cgo.
//
// # Pools
//
// [Open] opens two connection pools over the file:
//
//   - a writer pool of exactly one connection, whose transactions all begin
//     with BEGIN IMMEDIATE (the driver's _txlock=immediate). The write lock
//     is taken at the start, so a transaction that reads and then writes can
//     never fail half-way with SQLITE_BUSY_SNAPSHOT, which busy_timeout does
//     not retry. With one connection, the process's own writers queue in
//     database/sql and take turns at once, instead of polling SQLite's lock.
//   - a read pool of [Options.ReadConns] connections opened with mode=ro.
//     Under WAL, readers never block the writer nor each other, and SQLite
//     refuses any write on them.
//
// The DSNs keep the "file:" prefix, without which the driver would drop the
// query and mode=ro would be ignored, and use the driver's _pragma=name(value)
// syntax; other spellings are silently ignored. An in-memory database
// ([MemoryPath], for tests) has a single connection that serves both roles.
//
// # Pragmas
//
// Every connection is opened with busy_timeout (default 10 s, so other
// processes' writes are waited for, not reported as errors) and
// foreign_keys=1; the writer also sets journal_mode=WAL, which is persistent
// in the file, and synchronous=FULL. Each new connection reads these pragmas
// back and is refused with an error naming the pragma if one did not take
// effect. When several processes create a new file at once, all but one fail
// to switch it to WAL mode with an immediate SQLITE_BUSY; such a connection is
// retried for up to the busy timeout.
//
// # Migrations
//
// The schema lives in the embedded files migrations/NNNN_name.sql, numbered
// from 0001 without gaps; every table is STRICT. The database's version is
// its PRAGMA user_version. Open applies the missing migrations in order,
// each in its own IMMEDIATE transaction that also sets user_version, so a
// crash leaves a whole version and concurrent openers apply each migration
// exactly once. A database whose version is newer than the binary's is
// refused with an error wrapping [ErrSchemaTooNew] that names both versions.
//
// # Durability
//
// With synchronous=FULL in WAL mode, SQLite fsyncs the WAL at every commit,
// so a write is on disk when its commit returns, and nothing is acknowledged
// before that (SPEC §6). Each [LedgerStore.Append] is one transaction, one
// commit and one fsync whatever the number of entries: the ledger batches
// concurrent appends into one call (group commit), which is what keeps
// durability from costing throughput (see BenchmarkLedgerAppend). A process
// killed at any moment loses only writes whose commit had not returned.
//
// # Ledger
//
// [LedgerStore] implements ledger.Store over three tables: ledger_entries
// (the global tree index as primary key, unique (session_id, seq)),
// ledger_hashes (tlog storage index to 32-byte hash) and ledger_checkpoints.
// Append checks, inside its IMMEDIATE transaction, that the batch continues
// the stored tree and every session's hash chain, verifies each entry and
// recomputes the stored hashes, so the order of the ledger is total across
// processes and the stored tree always matches the stored entries. A batch
// built from reads outside that transaction is refused with
// ledger.ErrConflict if another writer got in first; [LedgerStore.AppendFunc]
// instead builds the batch inside the transaction, so it never conflicts.
package sqlite
