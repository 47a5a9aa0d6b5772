package recipes_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// An application that already has a *zk.Conn wraps it; closing the
// Session releases what it holds and leaves the connection open.
func ExampleNewSession() {
	conn, _, err := zk.Connect(servers(), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := recipes.NewSession(ctx, conn)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s.State())
	// Output: connected
}
