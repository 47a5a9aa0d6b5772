package group_test

import (
	"context"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/group"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// A replica joins the group of its service with its address; anyone can
// list the replicas.
func Example() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	replicas, err := group.New(s, "/groups/example-api")
	if err != nil {
		log.Fatal(err)
	}
	me, err := replicas.Join(ctx, "replica-1", []byte("10.0.0.7:8080"))
	if err != nil {
		log.Fatal(err)
	}
	defer me.Leave(ctx)
	members, err := replicas.Members(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range members {
		fmt.Printf("%s at %s\n", m.ID, m.Payload)
	}
	// Output: replica-1 at 10.0.0.7:8080
}
