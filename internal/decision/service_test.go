package decision

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardenhq/warden/internal/warden"
)

// TestRandomHistories drives decisions through random operations, legal
// and not, with the clock moving, and checks after each step that the
// cached state equals a fresh replay and that every refusal is a domain
// error.
func TestRandomHistories(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	st := NewMemStore()
	clock := NewClock(t0)
	exec := &ScriptedExecutor{}
	svc := New(Config{Store: st, Executor: exec, Now: clock.Now})
	people := []string{"creator", "alice", "bob", "carol", "dave"}
	for round := range 60 {
		exp := clock.Now().Add(time.Duration(1+rng.IntN(20)) * time.Minute)
		r := &Request{Goal: fmt.Sprint("goal ", round), Actor: human("creator"), Mode: Apply, MinApprovals: intp(1 + rng.IntN(3))}
		if rng.IntN(2) == 0 {
			r.ExpiresAt = &exp
		}
		if rng.IntN(3) == 0 {
			r.Approvers = []string{"alice", "bob", "carol"}
		}
		d, err := svc.Create(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		for range 25 {
			who := human(people[rng.IntN(len(people))])
			var err error
			switch rng.IntN(8) {
			case 0, 1, 2:
				var opts ApproveOptions
				if rng.IntN(3) == 0 {
					e := clock.Now().Add(time.Duration(1+rng.IntN(10)) * time.Minute)
					opts.ExpiresAt = &e
				}
				_, err = svc.Approve(ctx, d.ID, who, opts)
			case 3:
				_, err = svc.Revoke(ctx, d.ID, who, "r")
			case 4:
				exec.set(func(x *ScriptedExecutor) {
					x.Err = nil
					if rng.IntN(3) == 0 {
						x.Err = errors.New("down")
					}
				})
				_, err = svc.Execute(ctx, d.ID, ExecuteOptions{Actor: who})
			case 5:
				if rng.IntN(4) == 0 {
					_, err = svc.Reject(ctx, d.ID, who, "no")
				}
			case 6:
				_, err = svc.Expire(ctx, d.ID)
			case 7:
				clock.Advance(time.Duration(rng.IntN(5)) * time.Minute)
			}
			if err != nil {
				var we *warden.Error
				if !errors.As(err, &we) || we.Code == warden.CodeInternal || we.Code == CodeReplayInvalid || we.Code == warden.CodeConflict {
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			CheckReplay(t, st, d.ID)
			if t.Failed() {
				t.FailNow()
			}
		}
		if _, err := svc.Verify(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMarkdownKeepsStructure(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	svc := New(Config{Store: st, Now: NewClock(t0).Now})
	d, err := svc.Create(ctx, &Request{Goal: "line one\n## Forged section\n- forged item", Actor: human("creator"), MinApprovals: intp(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, d.ID, human("alice"), ApproveOptions{Comment: "ok\n## Approvals\n✓ Approved: ready to execute"}); err != nil {
		t.Fatal(err)
	}
	in, err := svc.Inspect(ctx, d.ID, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md := in.Markdown()
	var headings []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "✓") {
			headings = append(headings, l)
		}
	}
	want := []string{"# Decision " + d.ID, "## Decision", "## Lifecycle", "## Approvals", "## Policy", "## Execution", "## Timeline", "## Integrity"}
	if diff := cmp.Diff(want, headings); diff != "" {
		t.Errorf("headings (-want +got):\n%s\n%s", diff, md)
	}
}

// TestVerifyDetectsACorruptCache corrupts a cached state behind the
// store's back: Verify and Inspect report it.
func TestVerifyDetectsACorruptCache(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	svc := New(Config{Store: st, Now: NewClock(t0).Now})
	d, err := svc.Create(ctx, &Request{Goal: "g", Actor: human("creator"), MinApprovals: intp(2)})
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.decisions[d.ID].header = []byte(strings.Replace(string(st.decisions[d.ID].header), `"min_approvals":2`, `"min_approvals":1`, 1))
	st.mu.Unlock()
	_, err = svc.Verify(ctx, d.ID)
	if warden.ErrorCode(err) != CodeIntegrityMismatch {
		t.Fatalf("Verify: %v", err)
	}
	in, err := svc.Inspect(ctx, d.ID, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Integrity.Verified || !strings.Contains(in.Integrity.Problem, "cached state differs") || in.Approval.Required != 2 {
		t.Errorf("integrity %+v, required %d", in.Integrity, in.Approval.Required)
	}
	if !strings.Contains(in.Markdown(), "Verified:** NO") {
		t.Error("markdown does not flag the problem")
	}
}

func TestBlockingReasonsAtTimes(t *testing.T) {
	d := newDraft("d")
	exp := t0.Add(time.Hour)
	a1, a2 := t0.Add(10*time.Minute), t0.Add(20*time.Minute)
	build(t, d, t0, createdDraft("g", Apply), policyDraft(Policy{MinApprovals: 2, AllowedModes: []Mode{Apply}}))
	build(t, d, t0, draft{ApprovalGranted, human("alice"), GrantedPayload{ExpiresAt: &a1}}, draft{ApprovalGranted, human("bob"), GrantedPayload{ExpiresAt: &a2}})
	d.ExpiresAt = &exp // as if requested with an expiry
	codes := func(at time.Time) []string {
		var out []string
		for _, r := range BlockingReasons(d, at) {
			out = append(out, r.Code)
		}
		return out
	}
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{t0, nil},
		{t0.Add(15 * time.Minute), []string{BlockApprovalExpired}},
		{t0.Add(30 * time.Minute), []string{BlockApprovalExpired}},
		{t0.Add(time.Hour), []string{BlockExpired}},
	} {
		if diff := cmp.Diff(c.want, codes(c.at)); diff != "" {
			t.Errorf("at %s (-want +got):\n%s", c.at.Format(time.Kitchen), diff)
		}
	}
	if r := BlockingReasons(d, t0.Add(15*time.Minute))[0]; r.Details["current_valid"] != 1 || r.Details["expired_count"] != 1 || r.Details["required"] != 2 {
		t.Errorf("%+v", r)
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewUUID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("bad or repeated UUID %q", id)
		}
		seen[id] = true
	}
}
