package fsserver

import (
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// birthTime is when the open file f was created, as statx(2) reports it;
// the Unix epoch when the file system does not record it, as Node then
// reports.
func birthTime(f *os.File, _ fs.FileInfo) time.Time {
	var st unix.Statx_t
	if f == nil || unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &st) != nil || st.Mask&unix.STATX_BTIME == 0 {
		return time.Unix(0, 0)
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
}

// accessTime is when fi's file was last read.
func accessTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}
