package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// gracePeriod is how long CMD has between SIGTERM and SIGKILL.
const gracePeriod = 5 * time.Second

// held is what zkr needs of a lock or leadership hold.
type held interface {
	Done() <-chan struct{}
	Err() error
	Path() string
	Token() int64
}

// runUnder runs cmd while h is held and returns CMD's exit code as an
// exitErr (nil for 0). If the hold is lost first, CMD is terminated and
// the result has code exitLost; if ctx ends (a signal), CMD is terminated
// and the result has code exitInterrupted. With no cmd, it waits until the
// hold is lost or ctx ends.
func runUnder(ctx context.Context, h held, cmd []string, stdout, stderr io.Writer) error {
	if len(cmd) == 0 {
		select {
		case <-h.Done():
			return exitErr{exitLost, fmt.Errorf("lost %s: %w", h.Path(), h.Err())}
		case <-ctx.Done():
			return nil // interrupted while holding: release and exit 0
		}
	}
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, stdout, stderr
	c.Env = append(os.Environ(),
		"ZKR_LOCK_PATH="+h.Path(),
		"ZKR_FENCING_TOKEN="+strconv.FormatInt(h.Token(), 10))
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	select {
	case err := <-exited:
		return exitCode(err)
	case <-h.Done():
		terminate(c, exited)
		return exitErr{exitLost, fmt.Errorf("lost %s while %s ran (%v): terminated it", h.Path(), cmd[0], h.Err())}
	case <-ctx.Done():
		terminate(c, exited)
		return exitErr{exitInterrupted, errors.New("interrupted: terminated " + cmd[0])}
	}
}

// terminate sends SIGTERM, then SIGKILL after the grace period.
func terminate(c *exec.Cmd, exited <-chan error) {
	c.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(gracePeriod):
		c.Process.Kill()
		<-exited
	}
}

func exitCode(err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return exitErr{code, errQuiet}
		}
		return exitErr{exitError, fmt.Errorf("command killed: %v", ee)}
	}
	return err
}

// release gives the hold up with a bounded wait.
func release(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f(ctx)
}
