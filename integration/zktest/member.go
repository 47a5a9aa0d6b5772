package zktest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

const clientPort = "2181/tcp"

// Member is one ZooKeeper server of a [Cluster]. Its fault controls block
// until Docker has carried them out; they do not wait for ZooKeeper to react.
// It is safe for concurrent use.
type Member struct {
	cluster *Cluster
	id      int
	ctr     *testcontainers.DockerContainer

	mu           sync.Mutex
	running      bool
	starting     bool // in Start, until the container runs
	paused       bool
	disconnected bool
	terminated   bool // its container removed by the cluster's Terminate
	// gen counts the member's server processes: Start begins a new one.
	// served is closed once the current process has answered srvr with a
	// mode (see serving).
	gen     uint64
	served  chan struct{}
	probing bool
}

// ID returns the member's ZooKeeper server id (myid), from 1.
func (m *Member) ID() int { return m.id }

// Container returns the member's container, for anything the fault controls
// do not cover.
func (m *Member) Container() *testcontainers.DockerContainer { return m.ctr }

func (m *Member) alias() string { return fmt.Sprintf("zk%d", m.id) }

func (m *Member) create(ctx context.Context, img string, custom []testcontainers.ContainerCustomizer) error {
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithEnv(m.cluster.env(m.id)),
		testcontainers.WithExposedPorts(clientPort),
		testcontainers.WithLabels(ownerLabels()),
		network.WithNetwork([]string{m.alias()}, m.cluster.network),
	}
	if t := m.cluster.tls; t != nil {
		opts = append(opts, testcontainers.WithExposedPorts(securePort), testcontainers.WithFiles(
			testcontainers.ContainerFile{Reader: bytes.NewReader(t.CAPEM), ContainerFilePath: "/conf/tls/ca.pem", FileMode: 0o644},
			testcontainers.ContainerFile{Reader: bytes.NewReader(t.serverPEM), ContainerFilePath: "/conf/tls/server.pem", FileMode: 0o644}))
	}
	ctr, err := testcontainers.Run(ctx, img, append(opts, custom...)...)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ctr = ctr
	m.gen, m.served = 1, make(chan struct{})
	if err != nil {
		return fmt.Errorf("zktest: start member %d: %w", m.id, err)
	}
	m.running = true
	return nil
}

// up reports whether the member should answer clients.
func (m *Member) up() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running && !m.paused && !m.disconnected
}

// Addr returns the member's client address as published on the host. It
// changes when the member restarts; [Cluster.Servers] does not.
func (m *Member) Addr(ctx context.Context) (string, error) { return m.addrOf(ctx, clientPort) }

// addrOf returns where the member's port is published on the host.
func (m *Member) addrOf(ctx context.Context, p string) (string, error) {
	host, err := m.cluster.dockerHost(ctx, m)
	if err != nil {
		return "", fmt.Errorf("zktest: member %d: %w", m.id, err)
	}
	port, err := m.ctr.MappedPort(ctx, p)
	if err != nil {
		return "", fmt.Errorf("zktest: member %d: %w", m.id, err)
	}
	return net.JoinHostPort(host, port.Port()), nil
}

// networkAddr returns the member's client address on its Docker network,
// if a connection to it can be made from here.
func (m *Member) networkAddr(ctx context.Context) (string, error) {
	ip, err := m.ctr.ContainerIP(ctx)
	if err != nil {
		return "", err
	}
	if ip == "" {
		return "", fmt.Errorf("zktest: member %d has no network address", m.id)
	}
	addr := net.JoinHostPort(ip, strings.TrimSuffix(clientPort, "/tcp"))
	conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	conn.Close()
	return addr, nil
}

// Stop stops the member gracefully (SIGTERM, then SIGKILL after 10s).
func (m *Member) Stop(ctx context.Context) error {
	timeout := 10 * time.Second
	if err := m.ctr.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("zktest: stop member %d: %w", m.id, err)
	}
	m.set(func() { m.running, m.paused = false, false })
	return nil
}

// Kill stops the member at once with SIGKILL, as a crash would.
func (m *Member) Kill(ctx context.Context) error {
	return m.act(ctx, "kill", func(cli *client.Client, id string) error {
		_, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
		return err
	}, func() { m.running, m.paused = false, false })
}

// Start starts a stopped or killed member. It does not wait for the member
// to serve: use [Cluster.WaitServing] for that (testcontainers' "Container
// is ready" means only that the container runs). Meanwhile the proxies of
// a single server hold the connections of its clients, and forward them
// once it serves.
func (m *Member) Start(ctx context.Context) error {
	m.set(func() {
		if !m.running {
			// A new process, before its container starts: no srvr answer
			// from the process that ran before can count for it.
			m.gen, m.served = m.gen+1, make(chan struct{})
		}
		m.starting = true
	})
	err := m.ctr.Start(ctx)
	m.set(func() { m.starting, m.running = false, m.running || err == nil })
	if err != nil {
		return fmt.Errorf("zktest: start member %d: %w", m.id, err)
	}
	return nil
}

// Restart stops the member gracefully and starts it again.
func (m *Member) Restart(ctx context.Context) error {
	if err := m.Stop(ctx); err != nil {
		return err
	}
	return m.Start(ctx)
}

// Pause freezes every process of the member (docker pause): it neither
// answers nor closes connections, like a machine in a long GC pause.
func (m *Member) Pause(ctx context.Context) error {
	return m.act(ctx, "pause", func(cli *client.Client, id string) error {
		for try := 1; ; try++ {
			_, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
			if err == nil || !freezeGaveUp(err) || try == freezeTries || ctx.Err() != nil {
				return err
			}
		}
	}, func() { m.paused = true })
}

// freezeTries bounds the pauses tried in a row (see freezeGaveUp); each
// takes runc a quarter of a second or so to give up.
const freezeTries = 20

// freezeGaveUp reports whether a pause failed because runc's cgroup v1
// freezer gave up: it tries for about 200 ms to catch every thread, then
// thaws them all and fails with "unable to freeze". A thread in a system
// call that does not let it go (a server's fsync on a slow disk) holds
// it off that long under load; the member runs on, and a pause tried
// again catches it.
func freezeGaveUp(err error) bool { return strings.Contains(err.Error(), "unable to freeze") }

// Unpause lets a paused member run again.
func (m *Member) Unpause(ctx context.Context) error {
	return m.act(ctx, "unpause", func(cli *client.Client, id string) error {
		_, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	}, func() { m.paused = false })
}

// Disconnect cuts the member off the cluster's network: its peers cannot
// reach it and neither can its clients (the published port goes through the
// same network), as in a partition that isolates the member's machine.
func (m *Member) Disconnect(ctx context.Context) error {
	return m.act(ctx, "disconnect", func(cli *client.Client, id string) error {
		_, err := cli.NetworkDisconnect(ctx, m.cluster.network.ID, client.NetworkDisconnectOptions{Container: id, Force: true})
		return err
	}, func() { m.disconnected = true })
}

// Reconnect joins a disconnected member to the cluster's network again,
// under the same name.
func (m *Member) Reconnect(ctx context.Context) error {
	return m.act(ctx, "reconnect", func(cli *client.Client, id string) error {
		_, err := cli.NetworkConnect(ctx, m.cluster.network.ID, client.NetworkConnectOptions{
			Container:      id,
			EndpointConfig: &mobynet.EndpointSettings{Aliases: []string{m.alias()}},
		})
		return err
	}, func() { m.disconnected = false })
}

// A TCP accept is no sign that a member serves. Docker's port forwarder
// accepts before the server listens, and ZooKeeper accepts before it can
// serve. Worse, a standalone ZooKeeper 3.8 that reads a request (a
// ConnectRequest or a four-letter word) after it binds its client port but
// before it loads its database fails to close the connection (an NPE in
// ZooKeeperServer.removeCnxn, ZOOKEEPER-5051): the client hears nothing
// more, and go-zookeeper waits ten times its read timeout (13s with a 2s
// session, over a minute with 10s) before it tries again. So the proxies
// of a single server give it a client only once its current process has
// answered srvr with a mode; until then they hold the client's connection,
// as a listen backlog would: the client has no other server to try.
//
// An ensemble member is not held: a quorum peer loads its database before
// it accepts, and closes the connections it cannot serve yet, so its
// clients move on to another member at once, as from a real server.

// serving returns the generation of the member's current server process
// and whether that process has answered srvr with a mode.
func (m *Member) serving() (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.served:
		return m.gen, true
	default:
		return m.gen, false
	}
}

// sawServing records that the process of generation gen answered srvr
// with a mode.
func (m *Member) sawServing(gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen {
		return
	}
	select {
	case <-m.served:
	default:
		close(m.served)
	}
}

// sameProcess reports whether the member's server process is still the one
// of generation gen.
func (m *Member) sameProcess(gen uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen == gen
}

// awaitServing waits until the member's current server process serves and
// returns its generation. It returns false at once if the member is down
// (neither running nor starting), which a client sees as a server that
// refuses it, and false when ctx or done ends first. Only one srvr is in
// flight per member however many clients wait. An ensemble member is not
// waited for.
func (m *Member) awaitServing(ctx context.Context, done <-chan struct{}) (uint64, bool) {
	if len(m.cluster.members) > 1 {
		gen, _ := m.serving()
		return gen, true
	}
	for {
		m.mu.Lock()
		gen, served, down := m.gen, m.served, !m.running && !m.starting
		probe := !m.probing
		m.probing = true
		m.mu.Unlock()
		select {
		case <-served:
			if probe {
				m.set(func() { m.probing = false })
			}
			return gen, true
		default:
		}
		if probe {
			if !down {
				m.Mode(ctx) // closes served if it serves
			}
			m.set(func() { m.probing = false })
		}
		if down {
			return gen, false
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-served:
		case <-t.C:
		case <-done:
			t.Stop()
			return gen, false
		case <-ctx.Done():
			t.Stop()
			return gen, false
		}
		t.Stop()
	}
}

func (m *Member) set(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// act makes one Docker call on the member's container and, if it succeeds,
// records its effect with after.
func (m *Member) act(ctx context.Context, verb string, call func(*client.Client, string) error, after func()) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		defer cli.Close()
		err = call(cli.Client, m.ctr.GetContainerID())
	}
	if err != nil {
		return fmt.Errorf("zktest: %s member %d: %w", verb, m.id, err)
	}
	m.set(after)
	return nil
}

func (m *Member) terminate(ctx context.Context) error {
	m.mu.Lock()
	done := m.terminated
	m.mu.Unlock()
	if m.ctr == nil || done {
		return nil
	}
	if m.isPaused() {
		// A paused container cannot be stopped gracefully.
		_ = m.Unpause(ctx)
	}
	if err := m.ctr.Terminate(ctx, testcontainers.StopTimeout(0)); err != nil {
		return err
	}
	m.mu.Lock()
	m.terminated = true // a later Terminate of the cluster skips it
	m.mu.Unlock()
	return nil
}

func (m *Member) isPaused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused
}
