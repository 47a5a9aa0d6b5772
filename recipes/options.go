package recipes

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-zookeeper/zk"
)

// DefaultSessionTimeout is the session timeout [Connect] asks for. The
// server may grant a different one (between 2 and 20 ticks by default).
const DefaultSessionTimeout = 10 * time.Second

// DefaultPollInterval is how often a [Session] made by [NewSession] reads
// the state of a connection it did not make.
const DefaultPollInterval = 50 * time.Millisecond

type authInfo struct {
	scheme string
	auth   []byte
}

type sessionOptions struct {
	timeout      time.Duration
	logger       *slog.Logger
	auth         []authInfo
	acl          []zk.ACL
	identity     []byte
	tolerateSusp bool
	pollInterval time.Duration
}

func defaultSessionOptions() sessionOptions {
	host, _ := os.Hostname()
	return sessionOptions{
		timeout:      DefaultSessionTimeout,
		logger:       slog.Default(),
		acl:          zk.WorldACL(zk.PermAll),
		identity:     fmt.Appendf(nil, "zkrecipes host=%s pid=%d", host, os.Getpid()),
		pollInterval: DefaultPollInterval,
	}
}

// Option configures a [Session].
type Option func(*sessionOptions)

// WithSessionTimeout sets the session timeout to ask the server for. The
// default is [DefaultSessionTimeout]. It has no effect on [NewSession],
// whose connection already has a session.
func WithSessionTimeout(d time.Duration) Option { return func(o *sessionOptions) { o.timeout = d } }

// WithLogger sets where the session logs state changes and retries. The
// default is slog.Default(). go-zookeeper's own messages go to it at debug
// level.
func WithLogger(l *slog.Logger) Option { return func(o *sessionOptions) { o.logger = l } }

// WithAuth adds credentials (for example scheme "digest", auth
// "user:password") that the connection presents to the server, also after
// reconnecting. It may be given more than once.
func WithAuth(scheme string, auth []byte) Option {
	return func(o *sessionOptions) { o.auth = append(o.auth, authInfo{scheme, auth}) }
}

// WithACL sets the ACL of every node the recipes create. The default is
// open to all (zk.WorldACL(zk.PermAll)).
func WithACL(acl ...zk.ACL) Option { return func(o *sessionOptions) { o.acl = acl } }

// WithIdentity sets the data written into every contender node, which tools
// (zkr inspect, Curator's getParticipantNodes) show as who is queued. The
// default names this host and process: "zkrecipes host=H pid=P".
func WithIdentity(data []byte) Option { return func(o *sessionOptions) { o.identity = data } }

// WithTolerateSuspension keeps holds trusted while the connection is
// suspended (dropped, session maybe alive), up to the session timeout: a
// hold ends when the session is known to be lost, or once the suspension
// has lasted the negotiated session timeout (the requested one for a
// [NewSession]), by when the server may have expired the session and let
// the next contender in (Curator's simulated expiry does the same). By
// default a suspension ends every hold at once, because the server may
// expire the session before the client hears of it: tolerating it trades
// that safety margin for fewer lost holds on a flaky network.
func WithTolerateSuspension() Option { return func(o *sessionOptions) { o.tolerateSusp = true } }

// WithPollInterval sets how often a session made by [NewSession] reads its
// connection's state. The default is [DefaultPollInterval]. A session made
// by [Connect] is told of every change at once and does not poll.
func WithPollInterval(d time.Duration) Option { return func(o *sessionOptions) { o.pollInterval = d } }
