package sqlite

import "errors"

// ErrNotFound is wrapped by errors about rows that do not exist. Where the
// interface a store implements has its own sentinel, such as
// ledger.ErrNotFound, the error wraps that one too.
var ErrNotFound = errors.New("not found")

// notFound returns an error saying what was not found, wrapping ErrNotFound
// and the consumer's sentinel.
func notFound(consumer error, what string) error {
	return &notFoundError{what: what, consumer: consumer}
}

type notFoundError struct {
	what     string
	consumer error
}

func (e *notFoundError) Error() string { return e.what + " not found" }

func (e *notFoundError) Unwrap() []error { return []error{ErrNotFound, e.consumer} }
