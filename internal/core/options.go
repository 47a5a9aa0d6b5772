package core

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/go-zookeeper/zk"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// DefaultSessionTimeout is the session timeout Connect asks for by default.
const DefaultSessionTimeout = 10 * time.Second

// DefaultPollInterval is how often a Session made by NewSession reads the
// state of a connection it did not make, by default.
const DefaultPollInterval = 50 * time.Millisecond

// Config is a Session's configuration. Package recipes fills it from its
// functional options, whose docs say what each field means.
type Config struct {
	Timeout            time.Duration
	TimeoutSet         bool // Timeout was given, not defaulted
	Logger             *slog.Logger
	Auth               []Auth
	ACL                []zk.ACL
	Identity           []byte
	TolerateSuspension bool
	PollInterval       time.Duration
	// Metrics and traces (see telemetry.go): nil providers are the global
	// ones; DropPath leaves the recipe's path out of the attributes.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	DropPath       bool
	// How Connect reaches the servers (see createTap.dialUnder): a dialer
	// (nil: TCP), and TLS over it (nil: none).
	Dial func(network, address string, timeout time.Duration) (net.Conn, error)
	TLS  *tls.Config
}

// check rejects a configuration no Session can run with, before any
// connection is made.
func (c Config) check() error {
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("zkrecipes: session timeout %v: want more than 0", c.Timeout)
	case c.PollInterval <= 0:
		return fmt.Errorf("zkrecipes: poll interval %v: want more than 0", c.PollInterval)
	}
	return nil
}

// Auth is one set of credentials the connection presents.
type Auth struct {
	Scheme string
	Data   []byte
}

// DefaultConfig returns the configuration a Session has with no options.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Timeout:      DefaultSessionTimeout,
		Logger:       slog.Default(),
		ACL:          zk.WorldACL(zk.PermAll),
		Identity:     fmt.Appendf(nil, "zkrecipes host=%s pid=%d", host, os.Getpid()),
		PollInterval: DefaultPollInterval,
	}
}
