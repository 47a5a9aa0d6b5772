package interop

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed curator/CuratorDriver.java
var curatorDriver []byte

// CuratorJars are the jars the driver compiles and runs against, as Debian's
// libcurator-recipes-java installs them; their manifests name the rest.
var CuratorJars = []string{
	"/usr/share/java/curator-recipes.jar",
	"/usr/share/java/curator-framework.jar",
	"/usr/share/java/curator-client.jar",
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/guava.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-nop.jar",
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// build compiles the driver once per test binary.
func build() (string, error) {
	buildOnce.Do(func() {
		for _, jar := range CuratorJars {
			if _, err := os.Stat(jar); err != nil {
				buildErr = fmt.Errorf("interop: %s missing (install libcurator-recipes-java): %w", jar, err)
				return
			}
		}
		dir, err := os.MkdirTemp("", "curator-driver-")
		if err != nil {
			buildErr = err
			return
		}
		src := filepath.Join(dir, "CuratorDriver.java")
		if err := os.WriteFile(src, curatorDriver, 0o644); err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command("javac", "-cp", strings.Join(CuratorJars, ":"), "-d", dir, src).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("interop: javac: %w\n%s", err, out)
			return
		}
		buildDir = dir
	})
	return buildDir, buildErr
}

// Curator is a running Java process that drives Curator recipes on command.
type Curator struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	quit  chan struct{} // closed when stopping: unread lines are dropped
	done  chan struct{} // closed when stdout is drained
}

// StartCurator starts a Curator client connected to connect (a connect
// string) and waits until it is connected. The process is stopped when the
// test ends.
func StartCurator(t testing.TB, connect string) *Curator {
	t.Helper()
	dir, err := build()
	if err != nil {
		t.Fatal(err)
	}
	cp := strings.Join(append([]string{dir}, CuratorJars...), ":")
	cmd := exec.Command("java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", cp, "CuratorDriver", connect)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: start java: %v", err)
	}
	c := &Curator{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 64),
		quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			case <-c.quit:
			}
		}
	}()
	t.Cleanup(c.stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Expect(ctx, "ready"); err != nil {
		t.Fatal(err)
	}
	return c
}

// Send writes one command line to the driver.
func (c *Curator) Send(command string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.stdin, command); err != nil {
		c.t.Fatalf("interop: send %q: %v", command, err)
	}
}

// Expect waits for the next line and checks that it starts with prefix;
// it returns the line.
func (c *Curator) Expect(ctx context.Context, prefix string) (string, error) {
	line, err := c.Next(ctx)
	if err != nil {
		return "", fmt.Errorf("interop: waiting for %q: %w", prefix, err)
	}
	if !strings.HasPrefix(line, prefix) {
		return line, fmt.Errorf("interop: got %q, want %q", line, prefix)
	}
	return line, nil
}

// Next waits for the next line from the driver.
func (c *Curator) Next(ctx context.Context) (string, error) {
	select {
	case line := <-c.lines:
		return line, nil
	case <-c.done:
		return "", fmt.Errorf("interop: curator driver exited")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Lines returns the driver's output lines as they come, for a test that
// must see that no line comes while something else happens.
func (c *Curator) Lines() <-chan string { return c.lines }

func (c *Curator) stop() {
	close(c.quit)
	fmt.Fprintln(c.stdin, "quit")
	c.stdin.Close()
	exited := make(chan struct{})
	go func() { c.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-exited
	}
	<-c.done
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("curator: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
