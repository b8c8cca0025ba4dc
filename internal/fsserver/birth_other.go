//go:build !linux

package fsserver

import (
	"io/fs"
	"os"
	"time"
)

// birthTime is when the file was created. Outside Linux it is not read:
// the modification time stands in for it.
func birthTime(_ *os.File, fi fs.FileInfo) time.Time { return fi.ModTime() }

// accessTime is when the file was last read. Outside Linux it is not read:
// the modification time stands in for it.
func accessTime(fi fs.FileInfo) time.Time { return fi.ModTime() }
