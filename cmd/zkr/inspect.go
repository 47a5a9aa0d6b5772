package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// allMarkers are every contender name zkr knows.
var allMarkers = []recipes.Marker{
	recipes.MutexMarker, recipes.KazooLockMarker, recipes.KazooReadMarker,
	recipes.WriteMarker, recipes.ReadMarker, recipes.LatchMarker,
}

// entry is one node as inspect reports it.
type entry struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // holder, waiting, barrier member, ready, other
	Role     string    `json:"role,omitempty"`
	Client   string    `json:"client"`
	Session  string    `json:"session,omitempty"`
	Created  time.Time `json:"created"`
	Age      string    `json:"age"`
	Token    int64     `json:"token"`
	Sequence *int32    `json:"sequence,omitempty"`
	Data     string    `json:"data"`
}

func inspectCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zkr inspect", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	servers := fs.String("servers", "", "ZooKeeper servers, host:port,... (default $ZK_SERVERS)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError("inspect: %v", err)
	}
	path, err := onePath("inspect", fs)
	if err != nil {
		return err
	}
	s, err := connect(ctx, *servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	entries, err := inspect(ctx, s, path)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(stdout, "%s: nothing held, nobody waiting\n", path)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tROLE\tCLIENT\tSESSION\tAGE\tTOKEN\tNODE\tDATA")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%q\n", e.State, e.Role, e.Client, e.Session, e.Age, e.Token, e.Name, e.Data)
	}
	return tw.Flush()
}

type child struct {
	name string
	data []byte
	stat *zk.Stat
}

func inspect(ctx context.Context, s *recipes.Session, path string) ([]entry, error) {
	names, err := recipes.Call(ctx, s, func(c *zk.Conn) ([]string, error) {
		n, _, err := c.Children(path)
		return n, err
	})
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	byName := map[string]child{}
	for _, n := range names {
		type got struct {
			data []byte
			stat *zk.Stat
		}
		g, err := recipes.Call(ctx, s, func(c *zk.Conn) (got, error) {
			d, st, err := c.Get(path + "/" + n)
			return got{d, st}, err
		})
		if err == nil {
			byName[n] = child{n, g.data, g.stat}
		}
	}

	var out []entry
	queue := recipes.ParseChildren(names, allMarkers)
	rw := slices.ContainsFunc(queue, func(n recipes.Node) bool { return n.Role == recipes.Shared || n.Marker == recipes.WriteMarker.Name })
	for i, n := range queue {
		c, ok := byName[n.Name]
		if !ok {
			continue
		}
		rule := recipes.AnyBlocks
		if rw {
			rule = recipes.ReadWriteBlocks
		}
		state := "waiting"
		if len(blockers(queue, i, rule, byName)) == 0 {
			state = "holder"
		}
		seq := n.Seq
		e := describe(c, state, clientOf(n, c.data))
		e.Role, e.Sequence = n.Role.String(), &seq
		out = append(out, e)
	}
	for _, n := range names {
		c, ok := byName[n]
		if _, parsed := recipes.ParseNode(n, allMarkers); parsed || !ok {
			continue
		}
		switch {
		case n == "ready":
			out = append(out, describe(c, "barrier ready", "curator layout"))
		case uuidName.MatchString(n):
			out = append(out, describe(c, "barrier member", "curator layout"))
		default:
			out = append(out, describe(c, "other", "unknown"))
		}
	}
	return out, nil
}

// blockers applies the queue rule; a writer node whose data changed is a
// downgraded hold, which blocks readers no more.
func blockers(queue []recipes.Node, i int, rule recipes.BlockRule, byName map[string]child) []recipes.Node {
	return slices.DeleteFunc(recipes.Blockers(queue, i, rule), func(b recipes.Node) bool {
		c := byName[b.Name]
		return queue[i].Role == recipes.Shared && c.stat != nil && c.stat.Version > 0
	})
}

var (
	uuidName  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	goZkGUID  = regexp.MustCompile(`^_c_[0-9a-f]{32}-`)
	kazooName = regexp.MustCompile(`^[0-9a-f]{32}__r?lock__`)
)

// clientOf guesses which library made a node, from its name and data.
func clientOf(n recipes.Node, data []byte) string {
	switch {
	case kazooName.MatchString(n.Name):
		return "kazoo"
	case goZkGUID.MatchString(n.Name):
		return "go-zookeeper"
	case strings.HasPrefix(string(data), "zkrecipes"):
		return "zkrecipes"
	case net.ParseIP(string(data)) != nil:
		return "curator"
	case n.Marker == recipes.LatchMarker.Name:
		return "curator or zkrecipes (leader latch)"
	}
	return "unknown"
}

func describe(c child, state, client string) entry {
	created := time.UnixMilli(c.stat.Ctime)
	e := entry{Name: c.name, State: state, Client: client, Created: created,
		Age: time.Since(created).Round(time.Second).String(), Token: c.stat.Czxid, Data: string(c.data)}
	if c.stat.EphemeralOwner != 0 {
		e.Session = fmt.Sprintf("0x%x", c.stat.EphemeralOwner)
	}
	return e
}
