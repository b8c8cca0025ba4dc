package nexus_test

import (
	"fmt"
	"os"

	"github.com/wardenhq/warden/internal/nexus"
)

// Verify an audit package exported by nexus-control and list its checks.
func ExampleVerifyAuditPackage() {
	data, err := os.ReadFile("testdata/golden/audit-d-1-reference.json")
	if err != nil {
		panic(err)
	}
	p, err := nexus.ParseAuditPackage(data)
	if err != nil {
		panic(err) // names the field at fault, such as control_bundle.events[2].seq
	}
	r := nexus.VerifyAuditPackage(p, nexus.VerifyOptions{})
	fmt.Println("ok:", r.OK(), "binding digest:", r.Digest)
	for _, c := range r.Checks[:5] {
		fmt.Println(c.Name, c.OK)
	}
	fmt.Println("decision state:", r.Decision.State)
	// Output:
	// ok: true binding digest: sha256:cd892b611acc08e5a2575c9a601b24c6fdafde65550bcef43bc5b44a5092b907
	// binding_digest true
	// control_bundle_digest true
	// binding_control_match true
	// binding_router_match true
	// binding_link_match true
	// decision state: completed
}

// Canonical JSON as nexus-control computes it: Python's float forms, raw
// non-ASCII, keys in code point order.
func ExampleCanonical() {
	out, err := nexus.Canonical([]byte(`{"b": 1.0, "a": [1e20, 1e-7, -0.0, 10], "é": "\u2028/"}`))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", out)
	// Output:
	// "{\"a\":[1e+20,1e-07,-0.0,10],\"b\":1.0,\"é\":\"\u2028/\"}"
}
