package interop

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Driver is a running peer process (a Curator or Kazoo driver) that takes
// one command per line and answers with lines.
type Driver struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	quit  chan struct{} // closed when stopping: unread lines are dropped
	done  chan struct{} // closed when stdout is drained
}

// start runs cmd and waits for its "ready" line.
func start(ctx context.Context, name string, cmd *exec.Cmd, stderr io.Writer) (*Driver, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: start %s: %w", name, err)
	}
	d := &Driver{name: name, cmd: cmd, stdin: stdin, lines: make(chan string, 64),
		quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case d.lines <- sc.Text():
			case <-d.quit:
			}
		}
	}()
	if _, err := d.Expect(ctx, "ready"); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// Name returns which peer the driver runs: "curator" or "kazoo".
func (d *Driver) Name() string { return d.name }

// Send writes one command line to the driver.
func (d *Driver) Send(command string) error {
	_, err := fmt.Fprintln(d.stdin, command)
	return err
}

// Expect waits for the next line and checks that it starts with prefix;
// it returns the line.
func (d *Driver) Expect(ctx context.Context, prefix string) (string, error) {
	line, err := d.Next(ctx)
	if err != nil {
		return "", fmt.Errorf("interop: %s: waiting for %q: %w", d.name, prefix, err)
	}
	if !strings.HasPrefix(line, prefix) {
		return line, fmt.Errorf("interop: %s: got %q, want %q", d.name, line, prefix)
	}
	return line, nil
}

// Next waits for the next line from the driver.
func (d *Driver) Next(ctx context.Context) (string, error) {
	select {
	case line := <-d.lines:
		return line, nil
	case <-d.done:
		return "", fmt.Errorf("interop: %s exited", d.name)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Lines returns the driver's output lines as they come, for a test that
// must see that no line comes while something else happens.
func (d *Driver) Lines() <-chan string { return d.lines }

// Stop asks the driver to quit, kills it if it has not within 10 s, and
// waits for it.
func (d *Driver) Stop() {
	close(d.quit)
	fmt.Fprintln(d.stdin, "quit")
	d.stdin.Close()
	exited := make(chan struct{})
	go func() { d.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-exited
	}
	<-d.done
}
