package decision_test

import (
	"context"
	"fmt"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/warden"
)

// A decision needing two approvals, approved by two identities and
// executed once.
func Example() {
	ctx := context.Background()
	svc := decision.New(decision.Config{Store: decision.NewMemStore(), Executor: decision.NopExecutor{}})
	human := func(id string) decision.Actor { return decision.Actor{Type: decision.Human, ID: id} }
	two := 2

	d, err := svc.Create(ctx, &decision.Request{
		Goal: "rotate the API keys", Actor: human("dev"), Mode: decision.Apply, MinApprovals: &two,
		Plan: []byte(`[{"tool":"command:run","input":{"command":"rotate-keys"}}]`),
	})
	if err != nil {
		panic(err)
	}
	_, err = svc.Approve(ctx, d.ID, human("dev"), decision.ApproveOptions{})
	fmt.Println("self-approval refused:", warden.ErrorCode(err))
	st, _ := svc.Approve(ctx, d.ID, human("alice"), decision.ApproveOptions{Comment: "plan reviewed"})
	fmt.Println(st.State, st.Current, "of", st.Required)
	st, _ = svc.Approve(ctx, d.ID, human("bob"), decision.ApproveOptions{})
	fmt.Println(st.State, st.Current, "of", st.Required)

	run, err := svc.Execute(ctx, d.ID, decision.ExecuteOptions{Actor: human("dev")})
	if err != nil {
		panic(err)
	}
	fmt.Println("steps:", run.StepsExecuted)
	_, err = svc.Execute(ctx, d.ID, decision.ExecuteOptions{Actor: human("dev")})
	fmt.Println("again:", err != nil)

	l, _ := svc.Lifecycle(ctx, d.ID, 0)
	fmt.Println(l.State, l.BlockingReasons[0].Code)
	// Output:
	// self-approval refused: SELF_APPROVAL
	// pending_approval 1 of 2
	// approved 2 of 2
	// steps: 1
	// again: true
	// completed ALREADY_EXECUTED
}
