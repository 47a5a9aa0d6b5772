package interop

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed kazoo/kazoo_driver.py
var kazooDriver []byte

// KazooPython is the interpreter that has Debian's python3-kazoo: the
// system one, not whatever python3 comes first on PATH.
var KazooPython = "/usr/bin/python3"

// StartKazooDriver starts the Kazoo driver (a Python process) connected to
// connect and waits until it is connected. Stop it when done.
func StartKazooDriver(ctx context.Context, connect string, stderr io.Writer) (*Driver, error) {
	return startKazoo(ctx, connect, stderr)
}

func startKazoo(ctx context.Context, connect string, stderr io.Writer, env ...string) (*Driver, error) {
	if out, err := exec.Command(KazooPython, "-c", "import kazoo").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("interop: kazoo missing for %s (install python3-kazoo): %v: %s", KazooPython, err, out)
	}
	dir, err := os.MkdirTemp("", "kazoo-driver-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "kazoo_driver.py")
	if err := os.WriteFile(script, kazooDriver, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(KazooPython, script, connect)
	cmd.Env = append(os.Environ(), env...)
	return start(ctx, "kazoo", cmd, stderr)
}

// StartKazooTLS starts the Kazoo driver for a test, speaking TLS to
// connect (servers' secure ports) and verifying them with the PEM file ca.
func StartKazooTLS(t testing.TB, connect, ca string) *Driver {
	t.Helper()
	return startForTest(t, "kazoo", connect, func(ctx context.Context, connect string, stderr io.Writer) (*Driver, error) {
		return startKazoo(ctx, connect, stderr, "KAZOO_TLS_CA="+ca)
	})
}

// StartKazoo starts the Kazoo driver for a test (failing it if that is
// impossible) and stops it when the test ends.
func StartKazoo(t testing.TB, connect string) *Driver {
	t.Helper()
	return startForTest(t, "kazoo", connect, StartKazooDriver)
}
