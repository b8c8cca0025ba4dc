package sqlite

import "sync"

// batcher group-commits operations: the caller that finds no commit in
// flight leads, running every queued operation in one transaction, then
// hands the lead to the first operation queued meanwhile, so that no
// caller waits longer than its own batch and one fsync serves them all.
type batcher[O any] struct {
	mu      sync.Mutex
	queue   []*queued[O]
	leading bool
}

// queued is one operation waiting in a batcher.
type queued[O any] struct {
	op   O
	done chan struct{} // closed when the operation's batch has committed or failed
	lead chan struct{} // closed when this operation's caller must lead
}

// do queues op and returns once the batch holding it has been committed,
// by this caller (commit runs here) or by another.
func (b *batcher[O]) do(op O, commit func([]O)) {
	q := &queued[O]{op: op, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, q)
	if b.leading {
		b.mu.Unlock()
		select {
		case <-q.done:
			return
		case <-q.lead:
		}
		b.mu.Lock()
	}
	b.leading = true
	batch := b.queue
	b.queue = nil
	b.mu.Unlock()

	ops := make([]O, len(batch))
	for i, q := range batch {
		ops[i] = q.op
	}
	commit(ops)
	for _, q := range batch {
		close(q.done)
	}

	b.mu.Lock()
	if len(b.queue) > 0 {
		close(b.queue[0].lead)
	} else {
		b.leading = false
	}
	b.mu.Unlock()
}
