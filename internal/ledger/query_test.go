package ledger

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func qe(sid, typ, ts string, data string) Entry {
	return Entry{SessionID: sid, Type: typ, TS: ts, Data: json.RawMessage(data)}
}

func TestQuery(t *testing.T) {
	es := []Entry{
		qe("a", "session:start", "2026-01-01T00:00:00.000Z", `{}`),
		qe("a", "action:evaluate", "2026-01-01T00:00:01.000Z", `{}`),
		qe("b", "action:evaluate", "2026-01-01T00:00:02.000Z", `{}`),
		qe("a", "action:result", "2026-01-01T00:00:03.000Z", `{}`),
		qe("a", "action:evaluate", "bad", `{}`),
		qe("b", "session:terminate", "2026-01-01T00:00:05.000Z", `{}`),
	}
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	tests := []struct {
		name string
		f    Filter
		want []int
	}{
		{"no filter", Filter{}, []int{0, 1, 2, 3, 4, 5}},
		{"session", Filter{SessionID: "b"}, []int{2, 5}},
		{"types", Filter{Types: []string{"action:evaluate", "action:result"}}, []int{1, 2, 3, 4}},
		{"after is exclusive", Filter{After: at(1)}, []int{2, 3, 5}},
		{"before is exclusive", Filter{Before: at(2)}, []int{0, 1}},
		{"window", Filter{After: at(0), Before: at(5)}, []int{1, 2, 3}},
		{"offset then limit", Filter{Offset: 1, Limit: 2}, []int{1, 2}},
		{"zero limit and offset are unset", Filter{Limit: 0, Offset: 0}, []int{0, 1, 2, 3, 4, 5}},
		{"negative limit and offset are unset", Filter{Limit: -1, Offset: -3}, []int{0, 1, 2, 3, 4, 5}},
		{"offset beyond", Filter{Offset: 9}, []int{}},
		{"all filters", Filter{SessionID: "a", Types: []string{"action:evaluate"}, After: at(0), Offset: 0, Limit: 5}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Query(es, tt.f)
			want := []Entry{}
			for _, i := range tt.want {
				want = append(want, es[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Query (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	es := []Entry{
		qe("s", "session:start", "t", `{"policy":"p"}`),
		qe("s", "action:evaluate", "t", `{"verdict":"allow"}`),
		qe("s", "action:evaluate", "t", `{"verdict":"gate"}`),
		qe("s", "action:evaluate", "t", `{"verdict":"deny"}`),
		qe("s", "action:evaluate", "t", `{"verdict":7}`),
		qe("s", "action:evaluate", "t", `[1,2]`),
		qe("s", "session:state_change", "t1", `{"from":"active","to":"paused"}`),
		qe("s", "gate:requested", "t", `{}`),
		qe("s", "gate:rejected", "t", `{}`),
		qe("s", "escalation:triggered", "t", `{}`),
		qe("s", "action:result", "t", `{"success":false,"error":"exit 1"}`),
		qe("s", "action:result", "t", `{"success":false,"error":{"code":2}}`),
		qe("s", "action:result", "t", `{"success":false}`),
		qe("s", "action:result", "t", `{"success":true}`),
		qe("s", "action:rollback", "t", `{"success":true}`),
		qe("s", "session:terminate", "t", `{"reason":"Maximum denial limit reached (3)"}`),
	}
	got := Summarize(es)
	want := Summary{
		SessionID: "s", TotalEntries: 16,
		StateChanges:     []StateChange{{From: "active", To: "paused", TS: "t1"}},
		ActionsEvaluated: 5, ActionsAllowed: 1, ActionsDenied: 1, ActionsGated: 1,
		ResultsRecorded: 4, ActionsRolledBack: 1, GatesRequested: 1, GatesRejected: 1, EscalationsTriggered: 1,
		Errors:     []string{"exit 1", `{"code":2}`, "action failed"},
		Terminated: true, TerminationReason: "Maximum denial limit reached (3)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Summarize (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(got)
	if err != nil || !strings.Contains(string(b), `"actionsEvaluated":5`) || !strings.Contains(string(b), `"terminationReason":"Maximum`) {
		t.Fatalf("summary JSON: %s %v", b, err)
	}
	mixed := Summarize([]Entry{qe("a", "x", "t", `{}`), qe("b", "x", "t", `{}`)})
	if mixed.SessionID != "" || mixed.TotalEntries != 2 {
		t.Fatalf("mixed sessions: %+v", mixed)
	}
	empty := Summarize(nil)
	if diff := cmp.Diff(Summary{StateChanges: []StateChange{}, Errors: []string{}}, empty); diff != "" {
		t.Fatalf("empty (-want +got):\n%s", diff)
	}
}

func TestReadEntriesErrors(t *testing.T) {
	file, _, _ := exportFixture(t, 3)
	lines := splitLines(file)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"bad line", joinLines([]string{lines[0], "nope", lines[2]}), "line 2"},
		{"content after trailer", joinLines(append(append([]string{}, lines...), lines[0])), "after the trailer"},
		{"blank in the middle", joinLines([]string{lines[0], "", lines[1]}), "blank line"},
		{"bad trailer", joinLines([]string{lines[0], `{"warden":{"version":2}}`}), "line 2"},
		{"line too long", []byte(strings.Repeat("x", MaxLineBytes+1)), "16 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadEntries(strings.NewReader(string(tt.in)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadEntries error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	es, err := ReadEntries(strings.NewReader(""))
	if err != nil || len(es) != 0 {
		t.Fatalf("empty file: %v %v", es, err)
	}
}
