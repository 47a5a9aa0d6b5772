package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// readers bounds the reads of children that are not contenders inspect has
// in flight at once (recipes.Contenders bounds its own): they are
// pipelined on the session's one connection.
const readers = 64

// report is what inspect prints with --json: the node at PATH, and its
// children in queue order (contenders), then the others.
type report struct {
	Path     string  `json:"path"`
	Exists   bool    `json:"exists"`
	Kind     string  `json:"kind,omitempty"` // persistent, container, ephemeral, ttl
	Session  string  `json:"session,omitempty"`
	Created  string  `json:"created,omitempty"`
	Data     []byte  `json:"data,omitempty"` // base64; left out when empty
	Text     *string `json:"text,omitempty"` // Data, when it is valid UTF-8
	Children int     `json:"children"`
	Nodes    []entry `json:"nodes"`
}

// entry is one child as inspect reports it.
type entry struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // holder, waiting, barrier member, barrier ready, other
	Role     string    `json:"role,omitempty"`
	Client   string    `json:"client"`
	Session  string    `json:"session,omitempty"`
	Created  time.Time `json:"created"`
	Age      string    `json:"age"`
	Token    int64     `json:"token"`
	Sequence *int32    `json:"sequence,omitempty"`
	Data     []byte    `json:"data,omitempty"`
	Text     *string   `json:"text,omitempty"`
	// Unreadable: the node's ACL does not let zkr's session read its data
	Unreadable bool `json:"unreadable,omitempty"`
}

func inspectCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zkr inspect", flag.ContinueOnError)
	servers := connFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, stdout, inspectHelp); err != nil {
		return err
	}
	path, err := onePath("inspect", fs)
	if err != nil {
		return err
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := inspect(ctx, s, path)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	if !r.Exists {
		fmt.Fprintf(stdout, "%s: missing (no such node)\n", path)
		return nil
	}
	head := fmt.Sprintf("%s: %s node", path, r.Kind)
	if r.Session != "" {
		head += " of session " + r.Session
	}
	head += fmt.Sprintf(", data %q (%d bytes), %d children", r.Data, len(r.Data), r.Children)
	if len(r.Nodes) == 0 {
		fmt.Fprintf(stdout, "%s: nothing held, nobody waiting\n", head)
		return nil
	}
	fmt.Fprintln(stdout, head)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tROLE\tCLIENT\tSESSION\tAGE\tTOKEN\tNODE\tDATA")
	for _, e := range r.Nodes {
		data := fmt.Sprintf("%q", e.Data)
		if e.Unreadable {
			data = "(unreadable: its ACL)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.State, e.Role, e.Client, e.Session, e.Age, e.Token, e.Name, data)
	}
	return tw.Flush()
}

type child struct {
	name       string
	data       []byte
	stat       *zk.Stat
	unreadable bool
}

type got struct {
	data []byte
	stat *zk.Stat
}

// call runs f, one request on the session's connection, and returns when
// it does or when ctx ends (go-zookeeper's requests take no context; an
// abandoned one finishes in the background).
func call[T any](ctx context.Context, s *recipes.Session, f func(c *zk.Conn) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() { v, err := f(s.Conn()); ch <- result{v, err} }()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// read gets a node's data and stat.
func read(ctx context.Context, s *recipes.Session, p string) (got, error) {
	return call(ctx, s, func(c *zk.Conn) (got, error) {
		d, st, err := c.Get(p)
		return got{d, st}, err
	})
}

// inspect reads the node at path and its children: the contenders as the
// library sees them (recipes.Contenders: who holds under the rules every
// known recipe and client share), then the others, read here.
func inspect(ctx context.Context, s *recipes.Session, path string) (report, error) {
	r := report{Path: path, Nodes: []entry{}}
	// The node and its children in one round trip.
	type node struct {
		g   got
		err error
	}
	nc := make(chan node, 1)
	go func() { g, err := read(ctx, s, path); nc <- node{g, err} }()
	names, err := call(ctx, s, func(c *zk.Conn) ([]string, error) {
		n, _, err := c.Children(path)
		return n, err
	})
	n := <-nc
	switch {
	case errors.Is(n.err, zk.ErrNoNode):
		return r, nil
	case n.err != nil:
		return r, n.err
	case errors.Is(err, zk.ErrNoNode): // deleted between the two reads
		return r, nil
	case err != nil:
		return r, err
	}
	r.Exists, r.Children = true, len(names)
	r.Kind, r.Session = kindOf(n.g.stat.EphemeralOwner)
	r.Created = time.UnixMilli(n.g.stat.Ctime).Format(time.RFC3339Nano)
	r.Data, r.Text = n.g.data, text(n.g.data)

	contenders, err := recipes.Contenders(ctx, s, path)
	if err != nil {
		return r, err
	}
	queued := make(map[string]bool, len(contenders))
	for _, c := range contenders {
		queued[c.Name] = true
		r.Nodes = append(r.Nodes, describeContender(c))
	}
	if slices.Contains(names, "leases") {
		// A semaphore: its leases and the acquirers queued for its mutex.
		leases, waiters, err := semaphore.Inspect(ctx, s, path)
		if err != nil {
			return r, err
		}
		for _, c := range leases {
			e := describeContender(c)
			e.Name, e.State, e.Role = "leases/"+c.Name, "lease", "shared"
			r.Nodes = append(r.Nodes, e)
		}
		for _, c := range waiters {
			e := describeContender(c)
			e.Name, e.State = "locks/"+c.Name, "waiting for a lease"
			r.Nodes = append(r.Nodes, e)
		}
		queued["leases"], queued["locks"] = true, true
	}
	others := slices.DeleteFunc(names, func(n string) bool { return queued[n] })
	byName, err := readAll(ctx, s, path, others)
	if err != nil {
		return r, err
	}
	for _, n := range others {
		c, ok := byName[n]
		switch {
		case !ok: // gone since the listing, or a contender that was
		case n == "ready":
			r.Nodes = append(r.Nodes, describe(c, "barrier ready", "curator layout"))
		case uuidName.MatchString(n):
			r.Nodes = append(r.Nodes, describe(c, "barrier member", "curator layout"))
		default:
			r.Nodes = append(r.Nodes, describe(c, "other", "unknown"))
		}
	}
	return r, nil
}

// readAll reads the children of path named, at most readers at a time, and
// leaves out those gone since the listing.
func readAll(ctx context.Context, s *recipes.Session, path string, names []string) (map[string]child, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		byName = make(map[string]child, len(names))
		first  error
		wg     sync.WaitGroup
		slots  = make(chan struct{}, readers)
	)
	for _, n := range names {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			g, err := read(ctx, s, path+"/"+n)
			unreadable := errors.Is(err, zk.ErrNoAuth)
			if unreadable { // its ACL: its stat needs no permission
				g, err = call(ctx, s, func(c *zk.Conn) (got, error) {
					ok, st, err := c.Exists(path + "/" + n)
					if err == nil && !ok {
						err = zk.ErrNoNode
					}
					return got{nil, st}, err
				})
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, zk.ErrNoNode):
			case err != nil:
				if first == nil {
					first = fmt.Errorf("read %s/%s: %w", path, n, err)
					cancel()
				}
			default:
				byName[n] = child{n, g.data, g.stat, unreadable}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return byName, first
}

// kindOf names a node's kind from its stat's ephemeral owner, as ZooKeeper
// encodes it, and gives the owning session of an ephemeral node.
func kindOf(owner int64) (kind, session string) {
	switch {
	case owner == 0:
		return "persistent", ""
	case owner == math.MinInt64:
		return "container", ""
	case uint64(owner)>>56 == 0xff:
		return "ttl", ""
	}
	return "ephemeral", fmt.Sprintf("0x%x", owner)
}

// text returns data as a string if it is valid UTF-8 and not empty.
func text(data []byte) *string {
	if len(data) == 0 || !utf8.Valid(data) {
		return nil
	}
	t := string(data)
	return &t
}

var (
	uuidName  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	goZkGUID  = regexp.MustCompile(`^_c_[0-9a-f]{32}-`)
	kazooName = regexp.MustCompile(`^[0-9a-f]{32}__r?lock__`)
)

// clientOf guesses which library made a contender's node, from its name
// and data.
func clientOf(c recipes.Contender) string {
	switch {
	case kazooName.MatchString(c.Name):
		return "kazoo"
	case goZkGUID.MatchString(c.Name):
		return "go-zookeeper"
	case strings.HasPrefix(string(c.Data), "zkrecipes"):
		return "zkrecipes"
	case net.ParseIP(string(c.Data)) != nil:
		return "curator"
	case strings.Contains(c.Name, "latch-"):
		return "curator or zkrecipes (leader latch)"
	}
	return "unknown"
}

// describeContender reports a contender as the library sees it.
func describeContender(c recipes.Contender) entry {
	state, role := "waiting", "exclusive"
	if c.Held {
		state = "holder"
	}
	switch {
	case c.Downgraded:
		role = "shared (downgraded writer)"
	case c.Shared:
		role = "shared"
	}
	seq := c.Seq
	_, session := kindOf(c.Session)
	return entry{Name: c.Name, State: state, Role: role, Client: clientOf(c), Session: session,
		Created: c.Created, Age: time.Since(c.Created).Round(time.Second).String(), Token: c.Token,
		Sequence: &seq, Data: c.Data, Text: text(c.Data), Unreadable: c.Unreadable}
}

// describe reports a child that is not a contender.
func describe(c child, state, client string) entry {
	created := time.UnixMilli(c.stat.Ctime)
	_, session := kindOf(c.stat.EphemeralOwner)
	return entry{Name: c.name, State: state, Client: client, Session: session, Created: created,
		Age: time.Since(created).Round(time.Second).String(), Token: c.stat.Czxid,
		Data: c.data, Text: text(c.data), Unreadable: c.unreadable}
}
