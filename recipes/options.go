package recipes

import (
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/go-zookeeper/zk"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// DefaultSessionTimeout is the session timeout [Connect] asks for. The
// server may grant a different one (between 2 and 20 ticks by default).
const DefaultSessionTimeout = 10 * time.Second

// DefaultPollInterval is how often a [Session] made by [NewSession] reads
// the state of a connection it did not make.
const DefaultPollInterval = 50 * time.Millisecond

// EvictionMargin is how long past a holder's declared max hold (for
// example lock.WithMaxHold) a contender that waits behind it (the next in
// line, or the one after) waits before it deletes the holder's node. It
// times from when it saw the holder hold, on its own monotonic clock, and
// may have learned of the grant before the holder did, by as much as one
// server lags another: milliseconds on a healthy ensemble, rarely a few
// hundred. A second covers that, and stays far below a session timeout, so
// that eviction frees a lock long before the session of a hung holder
// would expire.
const EvictionMargin = time.Second

// config is what the options set.
type config = core.Config

// Option configures a [Session].
type Option func(*config)

func configure(opts []Option) core.Config {
	c := core.DefaultConfig()
	c.Timeout, c.PollInterval = DefaultSessionTimeout, DefaultPollInterval
	for _, opt := range opts {
		if opt != nil { // a nil Option sets nothing
			opt(&c)
		}
	}
	return c
}

// WithSessionTimeout sets the session timeout to ask the server for. The
// default is [DefaultSessionTimeout]. For [NewSession], whose connection
// already has a session, give that session's timeout: the Session cannot
// read it, and uses it to bound Close's waits and a tolerated suspension.
// It must be more than 0: Connect and NewSession refuse a Session without.
func WithSessionTimeout(d time.Duration) Option {
	return func(c *config) { c.Timeout, c.TimeoutSet = d, true }
}

// WithLogger sets where the session logs state changes and retries. The
// default is slog.Default(). go-zookeeper's own messages go to it at debug
// level.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.Logger = l } }

// WithAuth adds credentials (for example scheme "digest", auth
// "user:password") that the connection presents to the server, also after
// reconnecting. It may be given more than once.
func WithAuth(scheme string, auth []byte) Option {
	return func(c *config) { c.Auth = append(c.Auth, core.Auth{Scheme: scheme, Data: auth}) }
}

// WithACL sets the ACL of every node the recipes create. The default is
// open to all (zk.WorldACL(zk.PermAll)).
func WithACL(acl ...zk.ACL) Option { return func(c *config) { c.ACL = acl } }

// WithIdentity sets the data written into every contender node, which tools
// (zkr inspect, Curator's getParticipantNodes) show as who is queued. The
// default names this host and process: "zkrecipes host=H pid=P".
func WithIdentity(data []byte) Option { return func(c *config) { c.Identity = data } }

// WithTolerateSuspension keeps holds trusted while the connection is
// suspended (dropped, session maybe alive), but not for as long as the
// server may keep the session: a hold ends when the session is known to be
// lost, or once nine tenths of the negotiated session timeout have passed
// since the server was last heard from, before the server can have expired
// the session and let the next contender in. (Curator's simulated expiry
// counts the whole timeout from when it notices the suspension, up to two
// thirds of a timeout later.) A [NewSession] cannot see the server's
// traffic: it counts from when it noticed the suspension, and needs
// [WithSessionTimeout]. By default a suspension ends every hold at once,
// because the server may expire the session before the client hears of
// it: tolerating it trades that margin for fewer lost holds on a flaky
// network.
func WithTolerateSuspension() Option { return func(c *config) { c.TolerateSuspension = true } }

// WithPollInterval sets how often a session made by [NewSession] reads its
// connection's state. The default is [DefaultPollInterval]. A session made
// by [Connect] is told of every change at once and does not poll. It must
// be more than 0, as for WithSessionTimeout.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.PollInterval = d } }

// WithMeterProvider sets where the recipes' metrics go; the default is the
// global provider (otel.GetMeterProvider), which records nothing until an
// OpenTelemetry SDK is installed. See the package doc for the instruments.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.MeterProvider = mp }
}

// WithTracerProvider sets where the recipes' spans go; the default is the
// global provider (otel.GetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.TracerProvider = tp }
}

// WithoutPathAttribute leaves the recipe's path out of metrics and spans,
// for applications with one lock per item (a path per order, per file),
// whose paths would make every series its own.
func WithoutPathAttribute() Option { return func(c *config) { c.DropPath = true } }

// WithTLS makes [Connect] speak TLS to the servers (their secure client
// port) with cfg: its RootCAs verify the servers, and its Certificates
// are presented to them (ZooKeeper's x509 authentication provider then
// gives the session the certificate's identity, which ACLs can name). The
// server name verified is cfg.ServerName if set, else the host of each
// server as given to Connect, not the address it resolves to. The
// recipes' create tap reads the plaintext above the TLS layer, as it reads
// a plain connection. A Connect that cannot complete a handshake says why.
// [NewSession] ignores it: its connection is the application's.
func WithTLS(cfg *tls.Config) Option { return func(c *config) { c.TLS = cfg } }

// WithDialer makes [Connect] open its connections with dial instead of a
// plain TCP dial (through a proxy, a tunnel, a custom resolver); with
// [WithTLS], TLS runs over what dial returns. dial gets each server as
// Connect was given it ("host:port"), unresolved.
func WithDialer(dial func(network, address string, timeout time.Duration) (net.Conn, error)) Option {
	return func(c *config) { c.Dial = dial }
}
