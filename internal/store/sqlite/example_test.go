package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wardenhq/warden/internal/store/sqlite"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "warden-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, ".warden", "warden.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	size, err := sqlite.NewLedgerStore(db).TreeSize(ctx)
	fmt.Println(size, err)
	// Output: 0 <nil>
}
