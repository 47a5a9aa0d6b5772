// Command sharedfile shows the read-write lock: reader and writer
// processes (here goroutines with sessions of their own) share one file.
// Writers rewrite it line by line under the write lock; readers, holding
// the read lock together, never see a half-written file.
//
//	go run ./examples/sharedfile
//
// It uses ZK_SERVERS when set, and otherwise starts a throwaway ZooKeeper.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

func main() {
	ctx := context.Background()
	servers, stop, err := zktest.ServersOrStart(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	dir, err := os.MkdirTemp("", "sharedfile-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "config.txt")
	os.WriteFile(file, []byte("v0\nv0\nv0\n"), 0o644)

	var reads, torn, together, inside atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		s, err := recipes.Connect(ctx, servers)
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		m, err := rwlock.New(s, "/examples/shared-config")
		if err != nil {
			log.Fatal(err)
		}
		writer := i < 2
		wg.Go(func() {
			for round := range 5 {
				if writer {
					h, err := m.Lock(ctx)
					if err != nil {
						log.Fatal(err)
					}
					line := fmt.Sprintf("writer%d-round%d\n", i, round)
					os.WriteFile(file, nil, 0o644) // rewrite in steps: a reader must not see this
					for range 3 {
						f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o644)
						f.WriteString(line)
						f.Close()
					}
					h.Unlock(ctx)
					continue
				}
				h, err := m.RLock(ctx)
				if err != nil {
					log.Fatal(err)
				}
				if inside.Add(1) > 1 {
					together.Add(1)
				}
				data, _ := os.ReadFile(file)
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				if len(lines) != 3 || lines[0] != lines[1] || lines[1] != lines[2] {
					torn.Add(1)
				}
				reads.Add(1)
				inside.Add(-1)
				h.Unlock(ctx)
			}
		})
	}
	wg.Wait()
	fmt.Printf("reads: %d, torn reads: %d, reads made while another reader held: %d\n", reads.Load(), torn.Load(), together.Load())
}
