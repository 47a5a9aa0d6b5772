package zktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// A test starts a server, connects through the harness's addresses, and
// expires its own session on the server side to see how the code under
// test copes.
func ExampleRun() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := zktest.Run(ctx, zktest.Image())
	if c != nil {
		defer c.Terminate(context.Background())
	}
	if err != nil {
		fmt.Println(err)
		return
	}

	events := make(chan zk.Event, 16)
	conn, _, err := zk.Connect(c.Servers(), 4*time.Second, zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) { events <- ev }))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	for ev := range events {
		if ev.State == zk.StateHasSession {
			break
		}
	}

	if err := c.ExpireSession(ctx, conn.SessionID()); err != nil {
		fmt.Println(err)
		return
	}
	for ev := range events {
		if ev.State == zk.StateExpired {
			fmt.Println("session expired")
			break
		}
	}
	// Output: session expired
}
