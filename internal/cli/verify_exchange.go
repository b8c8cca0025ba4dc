package cli

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wardenhq/warden/internal/decision"
	"github.com/wardenhq/warden/internal/ledger"
	"github.com/wardenhq/warden/internal/nexus"
	"github.com/wardenhq/warden/internal/warden"
)

// isExchangeDoc reports whether data is a decision bundle or an audit
// package (JSON objects), rather than a ledger file (JSON lines).
func isExchangeDoc(data []byte) bool {
	var head struct {
		Bundle  *json.RawMessage `json:"bundle_version"`
		Package *json.RawMessage `json:"package_version"`
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	return json.Unmarshal(trimmed, &head) == nil && (head.Bundle != nil || head.Package != nil)
}

// verifyExchange verifies a bundle or an audit package and prints every
// check. A Warden signature is checked against the trusted keys (--key,
// else the key of the instance --db names, else the local instance's); a
// package without one is held to the
// checks nexus-control defines, unless a key was given explicitly.
func verifyExchange(p *verifyParams, s Streams, data []byte) error {
	signed := false
	if pkg, err := nexus.ParseAuditPackage(data); err == nil && pkg.Warden != nil && pkg.Warden.Signature != nil {
		signed = true
	}
	var opts nexus.VerifyOptions
	if signed || len(p.keys) > 0 {
		keys, err := parseKeys(p.keys)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			if keys, err = instanceKeys(p.db); err != nil {
				return err
			}
		}
		if len(keys) > 0 {
			pub, err := decision.VerifierPublicKey(keys[0])
			if err != nil {
				return usagef("--key: %v", err)
			}
			opts.PublicKey = ed25519.PublicKey(pub)
		}
	}
	rep, err := decision.VerifyExport(data, opts)
	if err != nil {
		return err
	}
	if p.json {
		if err := writeJSON(s, rep); err != nil {
			return err
		}
	} else {
		status := "VALID"
		if !rep.OK() {
			status = "INVALID"
		}
		what := "decision bundle"
		if rep.Subject == nexus.SubjectAuditPackage {
			what = "audit package"
		}
		id := ""
		if rep.Decision != nil {
			id = ", decision " + rep.Decision.ID
		}
		fmt.Fprintf(s.Out, "%s: %s %s%s, %s\n", p.file, status, what, id, rep.Digest)
		for _, c := range rep.Checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(s.Out, "  %s %s: %s\n", mark, c.Name, c.Message)
			if !c.OK && (c.Expected != "" || c.Actual != "") {
				fmt.Fprintf(s.Out, "       expected %s, found %s\n", c.Expected, c.Actual)
			}
		}
	}
	if !rep.OK() {
		return &exitError{code: ExitFailure}
	}
	return nil
}

// instanceKeys is the verifier key of the instance whose database is db
// (its signing.key beside it), or of the local instance when db is empty.
func instanceKeys(db string) ([]string, error) {
	if db == "" {
		return localKeys()
	}
	path := filepath.Join(filepath.Dir(db), "signing.key")
	if _, err := os.Stat(path); err != nil {
		return nil, warden.Errorf(warden.CodeNotFound, "no signing key beside %s (%s); give the signer's verifier key with --key", db, path)
	}
	signer, err := ledger.LoadOrCreateKey(path, "warden")
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return []string{signer.VerifierKey()}, nil
}
