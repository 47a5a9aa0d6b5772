// Command inventory is the classic e-commerce story on a distributed lock:
// several worker processes, each with its own ZooKeeper session, sell items
// from one stock record. Every sale is made under the lock and written as a
// guarded, fenced write: ZooKeeper applies it only while the seller still
// holds the lock, and only with a fencing token no older than the last
// sale's. The program prints items sold, items oversold (always 0) and how
// long workers waited for and held the lock.
//
//	go run ./examples/inventory [-workers 4] [-items 40] [-kill]
//
// -kill SIGKILLs one worker while it holds the lock: nobody releases it,
// and ZooKeeper does, when the dead worker's session expires.
//
// It uses the ensemble in ZK_SERVERS when set, and otherwise starts a
// throwaway ZooKeeper in Docker through the test harness.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

const (
	stockPath = "/inventory/stock"
	lockPath  = "/inventory/lock"
)

func main() {
	worker := flag.Bool("worker", false, "run as one worker (used by the program itself)")
	workers := flag.Int("workers", 4, "worker processes")
	items := flag.Int("items", 40, "items in stock at the start")
	kill := flag.Bool("kill", false, "kill one worker while it holds the lock")
	flag.Parse()
	log.SetFlags(0)
	if *worker {
		if err := runWorker(strings.Split(os.Getenv("ZK_SERVERS"), ",")); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := runShop(*workers, *items, *kill); err != nil {
		log.Fatal(err)
	}
}

// runShop fills the stock, starts the workers and reports.
func runShop(workers, items int, kill bool) error {
	ctx := context.Background()
	if os.Getenv("ZK_SERVERS") == "" {
		fmt.Println("ZK_SERVERS is not set: starting a throwaway ZooKeeper in Docker...")
	}
	list, stop, err := zktest.ServersOrStart(ctx)
	if err != nil {
		return err
	}
	defer stop()
	servers := strings.Join(list, ",")
	s, err := recipes.Connect(ctx, strings.Split(servers, ","))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.CreateParents(ctx, "/inventory"); err != nil {
		return err
	}
	s.Conn().Delete(stockPath, -1)
	if _, err := s.Conn().Create(stockPath, encode(items, 0), 0, s.ACL()); err != nil {
		return err
	}
	defer s.Conn().Delete(stockPath, -1)

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var waits, holds []time.Duration
	sold := 0
	var wg sync.WaitGroup
	for i := range workers {
		cmd := exec.Command(self, "-worker")
		cmd.Env = append(os.Environ(), "ZK_SERVERS="+servers)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		victim := kill && i == 0
		wg.Go(func() {
			sales := 0
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case f[0] == "holding" && victim && sales == 3:
					cmd.Process.Kill()
					fmt.Printf("killed worker %d while it held the lock; ZooKeeper releases it when its session expires\n", i)
				case f[0] == "sale" && len(f) == 3:
					wait, _ := time.ParseDuration(f[1])
					hold, _ := time.ParseDuration(f[2])
					sales++
					mu.Lock()
					sold++
					waits, holds = append(waits, wait), append(holds, hold)
					mu.Unlock()
				}
			}
			cmd.Wait()
		})
	}
	wg.Wait()

	data, _, err := s.Conn().Get(stockPath)
	if err != nil {
		return err
	}
	remaining, _ := decode(data)
	fmt.Printf("items sold:      %d of %d (%d left)\n", sold, items, remaining)
	fmt.Printf("items oversold:  %d\n", max(0, sold-items))
	fmt.Printf("lock wait:       median %v, max %v\n", median(waits), slices.Max(append(waits, 0)))
	fmt.Printf("lock hold:       median %v, max %v\n", median(holds), slices.Max(append(holds, 0)))
	if sold+remaining != items {
		return fmt.Errorf("stock record says %d left after %d sales of %d", remaining, sold, items)
	}
	return nil
}

// runWorker sells until the stock is empty. It prints "holding" each time
// it holds the lock and "sale WAIT HOLD" for each sale.
func runWorker(servers []string) error {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers, recipes.WithSessionTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := lock.New(s, lockPath)
	if err != nil {
		return err
	}
	for {
		start := time.Now()
		h, err := m.Lock(ctx)
		if err != nil {
			return err
		}
		held := time.Now()
		fmt.Println("holding")
		done, err := sell(ctx, s, h)
		if err == nil && !done {
			fmt.Println("sale", held.Sub(start), time.Since(held))
		}
		h.Unlock(ctx)
		if done {
			return nil
		}
	}
}

// sell takes one item off the stock with a write that ZooKeeper applies only
// if this worker still holds the lock (the guard) and the record is
// unchanged since it was read; the record keeps the last sale's fencing
// token, and a sale with an older token is refused.
func sell(ctx context.Context, s *recipes.Session, h *lock.Hold) (soldOut bool, err error) {
	data, st, err := s.Conn().Get(stockPath)
	if err != nil {
		return false, err
	}
	remaining, last := decode(data)
	if remaining == 0 {
		return true, nil
	}
	if h.Token() < last {
		return false, fmt.Errorf("stale fencing token %d < %d", h.Token(), last)
	}
	time.Sleep(5 * time.Millisecond) // processing the order
	_, err = h.Multi(ctx, &zk.SetDataRequest{Path: stockPath, Data: encode(remaining-1, h.Token()), Version: st.Version})
	return false, err
}

func encode(remaining int, token int64) []byte {
	return fmt.Appendf(nil, "%d %d", remaining, token)
}

func decode(data []byte) (remaining int, token int64) {
	f := strings.Fields(string(data))
	if len(f) == 2 {
		remaining, _ = strconv.Atoi(f[0])
		token, _ = strconv.ParseInt(f[1], 10, 64)
	}
	return remaining, token
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2].Round(time.Microsecond)
}
