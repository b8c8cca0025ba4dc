package ledger

import (
	"bytes"
	"testing"
)

// FuzzVerify feeds arbitrary bytes to Verify and ReadEntries: they must
// never panic, and a valid report must be consistent.
func FuzzVerify(f *testing.F) {
	export, vkey, _ := exportFixture(f, 2)
	f.Add(export)
	f.Add(writeDetACP("V1StGXR8_Z5jdHi6", detFixture()))
	f.Add(bytes.ReplaceAll(export, []byte("\n"), []byte("\r\n")))
	f.Add([]byte(`{"warden":{}}`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, keys := range [][]string{{vkey}, nil} {
			rep := Verify(bytes.NewReader(in), VerifyOptions{Keys: keys})
			failed := len(rep.Failed()) > 0
			if rep.Valid == failed {
				t.Fatalf("Valid = %v with failed checks %+v", rep.Valid, rep.Failed())
			}
			if rep.Valid && rep.Kind == KindUnknown {
				t.Fatal("a file of unknown kind is valid")
			}
			if rep.Valid && rep.Kind == KindExport && keys == nil {
				t.Fatal("an export is valid without a trusted key")
			}
		}
		es, err := ReadEntries(bytes.NewReader(in))
		if err == nil {
			for _, e := range es {
				if e.Seq < 1 || e.SessionID == "" || len(e.Data) == 0 {
					t.Fatalf("ReadEntries returned a malformed entry %+v", e)
				}
			}
		}
	})
}
