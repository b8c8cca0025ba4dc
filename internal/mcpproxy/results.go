package mcpproxy

import (
	"context"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/gateway"
)

// ResultDelay is how long the result of a forwarded call waits to be
// recorded with the session's next evaluation, in the same durable
// commit, before it is recorded on its own. An agent that calls again
// at once (the common case in a burst) pays one commit per call, not two.
const ResultDelay = 20 * time.Millisecond

// results are the results of allowed calls not yet recorded.
type results struct {
	mu    sync.Mutex
	list  []gateway.PendingResult
	timer *time.Timer
	// flushing is held while results are recorded on their own, so that
	// Close waits for a flush in progress before it ends the session.
	flushing sync.Mutex
}

// record queues the result of an allowed call. It is recorded with the
// session's next evaluation, or after ResultDelay, or by Flush.
func (p *Proxy) record(resp *gateway.Response, r gateway.Result) {
	p.results.mu.Lock()
	defer p.results.mu.Unlock()
	p.results.list = append(p.results.list, gateway.PendingResult{ActionID: resp.ActionID, Result: r})
	if p.results.timer == nil {
		p.results.timer = time.AfterFunc(ResultDelay, p.Flush)
	}
}

// takeResults removes the queued results, for an evaluation to record.
func (p *Proxy) takeResults() []gateway.PendingResult {
	p.results.mu.Lock()
	defer p.results.mu.Unlock()
	list := p.results.list
	p.results.list = nil
	if p.results.timer != nil {
		p.results.timer.Stop()
		p.results.timer = nil
	}
	return list
}

// putBack queues again, first, results an evaluation did not commit.
func (p *Proxy) putBack(list []gateway.PendingResult) {
	if len(list) == 0 {
		return
	}
	p.results.mu.Lock()
	defer p.results.mu.Unlock()
	p.results.list = append(list, p.results.list...)
	if p.results.timer == nil {
		p.results.timer = time.AfterFunc(ResultDelay, p.Flush)
	}
}

// Flush records the queued results now. Close and Status flush first.
func (p *Proxy) Flush() {
	p.results.flushing.Lock()
	defer p.results.flushing.Unlock()
	for _, pr := range p.takeResults() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := p.g.RecordResult(ctx, p.sid, pr.ActionID, pr.Result); err != nil {
			p.recordFailed(pr.ActionID, err)
		}
		cancel()
	}
}

// recordFailed reports a result that could not be recorded to the human:
// the agent's call did run.
func (p *Proxy) recordFailed(actionID string, err error) {
	p.warnf("recording the result of action %s: %v", actionID, err)
}
