package cli

import (
	"context"
	"os"
	"os/user"

	"github.com/wardenhq/warden/internal/instance"
)

// DefaultDB is the embedded database, relative to the project directory.
const DefaultDB = instance.DefaultDB

// openInstance opens the local database (DefaultDB when path is empty).
func openInstance(ctx context.Context, path string) (*instance.Instance, error) {
	return instance.Open(ctx, path, instance.Options{})
}

// localIdentity is who a local command acts as: --as, or the OS user.
func localIdentity(as string) string {
	if as != "" {
		return as
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "local"
}
