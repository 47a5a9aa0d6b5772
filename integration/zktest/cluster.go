package zktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
)

// Cluster is a running ZooKeeper server or ensemble. It is safe for
// concurrent use.
//
// The cluster of [RunTests] is started by the first call of any of its
// methods other than Terminate; see RunTests.
type Cluster struct {
	lazy *lazyCluster // for RunTests' cluster: what the methods act on

	opts    options
	network *testcontainers.DockerNetwork
	members []*Member
	front   *Proxy // the proxy behind Servers
	secure  *Proxy // the proxy behind SecureServers (WithTLS)
	tls     *TLS   // WithTLS

	sessions sessionBook

	mu      sync.Mutex
	host    string // where published ports are reached, once known
	proxies []*Proxy
	closed  bool
}

// Image returns the image named by ZKTEST_IMAGE, or [DefaultImage].
func Image() string {
	if img := os.Getenv(ImageEnv); img != "" {
		return img
	}
	return DefaultImage
}

// Start runs a cluster from [Image] for the test, fails the test (never
// skips it) if that is impossible, and terminates the cluster when the test
// ends. testcontainers' progress lines go to the test log (ZooKeeper's own
// output does not: read it with the member's Container().Logs, or docker
// logs).
func Start(tb testing.TB, opts ...testcontainers.ContainerCustomizer) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts = append([]testcontainers.ContainerCustomizer{testcontainers.WithLogger(tclog.TestLogger(tb))}, opts...)
	c, err := Run(ctx, Image(), opts...)
	if c != nil {
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Terminate(ctx); err != nil {
				tb.Errorf("zktest: terminate: %v", err)
			}
		})
	}
	if err != nil {
		tb.Fatalf("zktest: start ZooKeeper from %s: %v", Image(), err)
	}
	return c
}

// Run starts a ZooKeeper server (or, with [WithEnsemble], an ensemble) from
// img on a Docker network of its own and waits until it serves. Options of
// type [Option] shape the cluster; any other testcontainers customizer is
// applied to every member's container request.
//
// If Run fails after creating anything, it returns the partial cluster with
// the error so that the caller can Terminate it.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Cluster, error) {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		// Ryuk's image is pulled from a registry; we clean up ourselves.
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	o := defaultOptions()
	var custom []testcontainers.ContainerCustomizer
	for _, opt := range opts {
		if f, ok := opt.(Option); ok {
			f(&o)
		} else {
			custom = append(custom, opt)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	reapOrphans(ctx)

	nw, err := network.New(ctx, network.WithLabels(ownerLabels()))
	if err != nil {
		return nil, fmt.Errorf("zktest: create network: %w", err)
	}
	c := &Cluster{opts: o, network: nw}
	if o.tls {
		if c.tls, err = newTLS(o.members); err != nil {
			return c, fmt.Errorf("zktest: certificates: %w", err)
		}
	}
	c.members = make([]*Member, o.members)
	for i := range c.members {
		c.members[i] = &Member{cluster: c, id: i + 1}
	}

	errs := make([]error, o.members)
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() { errs[i] = m.create(ctx, img, custom) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if c.front, err = c.NewProxy(); err != nil {
		return c, err
	}
	if o.tls {
		if c.secure, err = c.newProxy(securePort, true); err != nil {
			return c, err
		}
	}
	if err := c.WaitServing(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// serverList is ZOO_SERVERS for this cluster: members find each other by
// their network alias.
func (c *Cluster) serverList() string {
	if len(c.members) == 1 {
		return "server.1=0.0.0.0:2888:3888;2181"
	}
	var b strings.Builder
	for _, m := range c.members {
		fmt.Fprintf(&b, "server.%d=%s:2888:3888;2181 ", m.id, m.alias())
	}
	return strings.TrimSpace(b.String())
}

// env is the official image's environment contract filled in from options.
func (c *Cluster) env(id int) map[string]string {
	o := c.opts
	ticks := func(d time.Duration) string { return strconv.Itoa(int((d + o.tickTime - 1) / o.tickTime)) }
	sync := "yes"
	if !o.forceSync {
		sync = "no"
	}
	return map[string]string{
		"ZOO_MY_ID":                  strconv.Itoa(id),
		"ZOO_SERVERS":                c.serverList(),
		"ZOO_TICK_TIME":              strconv.Itoa(int(o.tickTime / time.Millisecond)),
		"ZOO_INIT_LIMIT":             ticks(20 * time.Second),
		"ZOO_SYNC_LIMIT":             ticks(2 * time.Second),
		"ZOO_STANDALONE_ENABLED":     "true",
		"ZOO_ADMINSERVER_ENABLED":    "false",
		"ZOO_4LW_COMMANDS_WHITELIST": "*",
		// Every client reaches the server from one address (the proxy's);
		// the server's default cap of 60 per address is too few for tests.
		"ZOO_MAX_CLIENT_CNXNS": "0",
		"ZOO_CFG_EXTRA":        c.cfgExtra(),
		"JVMFLAGS": strings.Join([]string{
			"-Xms32m -Xmx256m",
			"-Dzookeeper.forceSync=" + sync,
			"-Dznode.container.checkIntervalMs=" + strconv.Itoa(int(o.containerInterval/time.Millisecond)),
			// A restarted or reconnected member may come back on a new
			// address: resolve peers afresh, and retry elections quickly
			// rather than backing off for up to a minute.
			"-Dsun.net.inetaddr.ttl=0 -Dsun.net.inetaddr.negative.ttl=0",
			"-Dzookeeper.cnxTimeout=1000 -Dzookeeper.fastleader.maxNotificationInterval=1000",
		}, " "),
	}
}

// cfgExtra is ZOO_CFG_EXTRA: zoo.cfg lines the image has no variable for.
func (c *Cluster) cfgExtra() string {
	extra := []string{"maxSessionTimeout=" + strconv.Itoa(int(c.opts.maxSessionTimeout/time.Millisecond))}
	if c.opts.tls {
		extra = append(extra, tlsConfig...)
	}
	return strings.Join(extra, " ")
}

// TLS returns the certificates of a cluster made WithTLS, or nil.
func (c *Cluster) TLS() *TLS { return c.started().tls }

// SecureServers returns, for a cluster made WithTLS, the addresses of a
// proxy in front of the members' TLS ports, in member order; nil otherwise.
func (c *Cluster) SecureServers() []string {
	if c = c.started(); c.secure == nil {
		return nil
	}
	return c.secure.Servers()
}

// dockerHost returns the host on which published ports are reached. The
// address testcontainers infers can be wrong inside a sandbox whose Docker
// engine is local, so the first candidate that accepts a connection to m's
// published port wins.
func (c *Cluster) dockerHost(ctx context.Context, m *Member) (string, error) {
	c.mu.Lock()
	host := c.host
	c.mu.Unlock()
	if host != "" {
		return host, nil
	}
	port, err := m.ctr.MappedPort(ctx, clientPort)
	if err != nil {
		return "", err
	}
	// Loopback first: where it is wrong, it is refused at once.
	candidates := []string{"127.0.0.1"}
	if h, err := m.ctr.Host(ctx); err == nil && h != "localhost" && h != "127.0.0.1" {
		candidates = append(candidates, h)
	}
	for _, h := range candidates {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(h, port.Port()))
		if err != nil {
			continue
		}
		conn.Close()
		c.mu.Lock()
		c.host = h
		c.mu.Unlock()
		return h, nil
	}
	return "", fmt.Errorf("zktest: published port %s reachable on none of %v", port.Port(), candidates)
}

// Members returns the members in id order (member i has ZooKeeper id i+1).
func (c *Cluster) Members() []*Member { return c.started().members }

// Servers returns the addresses a client should connect to, in member
// order, for example as the servers argument of zk.Connect. They go through
// an in-process proxy and stay valid across member restarts.
func (c *Cluster) Servers() []string { return c.started().front.Servers() }

// ConnectString returns [Cluster.Servers] joined by commas, as Curator,
// Kazoo and the zkCli want it.
func (c *Cluster) ConnectString() string { return strings.Join(c.Servers(), ",") }

// DirectServers returns the members' addresses without the proxy: the
// fastest path, for benchmarks. Where the containers' own addresses on
// their Docker network are reachable from here (a Linux engine), those are
// used, so no port-forwarding process sits in between; otherwise the
// published ports. They change when a member restarts, and sessions made
// through them cannot be expired with [Cluster.ExpireSession].
func (c *Cluster) DirectServers(ctx context.Context) ([]string, error) {
	c = c.started()
	out := make([]string, len(c.members))
	for i, m := range c.members {
		addr, err := m.networkAddr(ctx)
		if err != nil {
			addr, err = m.Addr(ctx)
		}
		if err != nil {
			return nil, err
		}
		out[i] = addr
	}
	return out, nil
}

// WaitServing blocks until every running, unpaused member serves clients
// and, for an ensemble, exactly one of them leads. It returns ctx's error if
// that does not happen first.
func (c *Cluster) WaitServing(ctx context.Context) error {
	c = c.started()
	for {
		err := c.serving(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("zktest: wait for ZooKeeper to serve: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) serving(ctx context.Context) error {
	leaders := 0
	for _, m := range c.members {
		if !m.up() {
			continue
		}
		mode, err := m.Mode(ctx)
		if err != nil {
			return err
		}
		if mode == ModeLeader {
			leaders++
		}
	}
	if len(c.members) > 1 && leaders != 1 {
		return fmt.Errorf("zktest: %d leaders", leaders)
	}
	return nil
}

// Leader returns the member that currently leads the ensemble (for a single
// server, that server).
func (c *Cluster) Leader(ctx context.Context) (*Member, error) {
	c = c.started()
	for _, m := range c.members {
		if !m.up() {
			continue
		}
		if mode, err := m.Mode(ctx); err == nil && (mode == ModeLeader || mode == ModeStandalone) {
			return m, nil
		}
	}
	return nil, errors.New("zktest: no member leads")
}

// Terminate closes every proxy, removes every member's container and the
// network, and returns the errors joined. It is safe to call more than once.
// On the cluster of [RunTests] it does not start the cluster: if no method
// started it, Terminate only makes sure that none will.
func (c *Cluster) Terminate(ctx context.Context) error {
	if c.lazy != nil {
		return c.lazy.terminate(ctx)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	proxies := c.proxies
	c.mu.Unlock()

	var errs []error
	for _, p := range proxies {
		errs = append(errs, p.Close())
	}
	mErrs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() { mErrs[i] = m.terminate(ctx) })
	}
	wg.Wait()
	errs = append(errs, mErrs...)
	if c.network != nil {
		err := c.network.Remove(ctx)
		if err == nil {
			c.network = nil
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		// A later call tries what is left again (Start's cleanup, with a
		// ctx of its own, after a caller's that had expired).
		c.mu.Lock()
		c.closed = false
		c.mu.Unlock()
		return err
	}
	return nil
}

// Quiet is a Run option that silences testcontainers' progress lines, for
// clusters started outside a test (TestMain, examples, programs). It also
// silences testcontainers' process-wide default logger, which prints a
// banner on first use.
func Quiet() testcontainers.ContainerCustomizer {
	tclog.SetDefault(tclog.NewNoopLogger())
	return testcontainers.WithLogger(tclog.NewNoopLogger())
}
