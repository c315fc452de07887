package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInitOnAFullDisk: init on a filesystem with less free than the
// store's reserve (a 2 MiB tmpfs, mounted by the test as root) is refused
// with one line saying how much is free, what the reserve is for and what
// to do, and leaves nothing behind, in a new directory or an empty one
// (issue 20, item 8).
func TestInitOnAFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	for _, dir := range []string{filepath.Join(disk, "usa"), disk} {
		args := []string{"init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:7443"}
		checkFailed(t, args, hotline(t, args...), "MiB free on the filesystem of "+dir+":", "64.0 MiB there in reserve",
			"under 16.0 MiB, its own requests are refused", "choose a filesystem with more room", "nothing was written")
	}
	if left, _ := os.ReadDir(disk); len(left) != 0 {
		t.Errorf("a refused init left %v behind", left)
	}
}
