package zktest

import (
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Defaults used by [Run] when no option says otherwise.
const (
	// DefaultImage is the official ZooKeeper image, used when ZKTEST_IMAGE is unset.
	DefaultImage = "zookeeper:3.8"
	// DefaultTickTime is small so that sessions can expire well under a second.
	DefaultTickTime = 100 * time.Millisecond
	// DefaultContainerCheckInterval is how often the server reaps empty
	// CONTAINER nodes (the server's own default is a minute).
	DefaultContainerCheckInterval = 250 * time.Millisecond
	// DefaultMaxSessionTimeout lifts the server's cap of 20 ticks so that tests
	// can still ask for long sessions with a small tick.
	DefaultMaxSessionTimeout = 60 * time.Second
)

// ImageEnv names the environment variable that chooses the image.
const ImageEnv = "ZKTEST_IMAGE"

type options struct {
	members           int
	tickTime          time.Duration
	containerInterval time.Duration
	maxSessionTimeout time.Duration
	forceSync         bool
	tls               bool
}

func defaultOptions() options {
	return options{
		members:           1,
		tickTime:          DefaultTickTime,
		containerInterval: DefaultContainerCheckInterval,
		maxSessionTimeout: DefaultMaxSessionTimeout,
		forceSync:         true,
	}
}

func (o options) validate() error {
	if o.members != 1 && o.members != 3 && o.members != 5 {
		return fmt.Errorf("zktest: ensemble of %d members: want 1, 3 or 5", o.members)
	}
	if o.tickTime < time.Millisecond {
		return fmt.Errorf("zktest: tick time %v: want at least 1ms", o.tickTime)
	}
	if o.containerInterval < time.Millisecond {
		return fmt.Errorf("zktest: container check interval %v: want at least 1ms", o.containerInterval)
	}
	if o.maxSessionTimeout < 2*o.tickTime {
		return fmt.Errorf("zktest: max session timeout %v: want at least two ticks", o.maxSessionTimeout)
	}
	return nil
}

// Option configures [Run]. Options also satisfy
// testcontainers.ContainerCustomizer, so they can be passed to Run beside
// generic testcontainers options, which are applied to every member.
type Option func(*options)

// Customize does nothing: an Option changes the cluster, not one container
// request. It exists so that an Option is a testcontainers.ContainerCustomizer.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

// WithTLS has every member serve TLS on a secure client port beside the
// plain one, with certificates made at test time: [Cluster.TLS] gives the
// authority and a client certificate, [Cluster.SecureServers] the
// addresses (loopback proxies, which pass the encrypted stream through; the
// servers' certificate names "localhost" and 127.0.0.1). Clients may
// present the client certificate, and are then authenticated by
// ZooKeeper's x509 provider.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// WithEnsemble runs n members (1, 3 or 5) instead of a single server.
func WithEnsemble(n int) Option { return func(o *options) { o.members = n } }

// WithTickTime sets the server's tickTime. The default is [DefaultTickTime].
// The smallest session timeout a server grants is two ticks.
func WithTickTime(d time.Duration) Option { return func(o *options) { o.tickTime = d } }

// WithContainerCheckInterval sets how often the server deletes empty
// CONTAINER nodes. The default is [DefaultContainerCheckInterval].
func WithContainerCheckInterval(d time.Duration) Option {
	return func(o *options) { o.containerInterval = d }
}

// WithMaxSessionTimeout sets the longest session timeout the server grants.
// The default is [DefaultMaxSessionTimeout].
func WithMaxSessionTimeout(d time.Duration) Option {
	return func(o *options) { o.maxSessionTimeout = d }
}

// WithForceSync sets whether the server fsyncs its transaction log before
// acknowledging a write. The default is true, as on a real server.
func WithForceSync(on bool) Option { return func(o *options) { o.forceSync = on } }
