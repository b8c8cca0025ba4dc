package sqlite

import "database/sql"

// Writer and Reader expose the pools to the external tests.
func (db *DB) Writer() *sql.DB { return db.write }
func (db *DB) Reader() *sql.DB { return db.read }

// SchemaVersion is the version the tests expect after Open.
var SchemaVersion = schemaVersion
