// Command inventory is the classic e-commerce story on a distributed lock:
// several worker processes, each with its own ZooKeeper session, sell items
// from one stock record. Every sale is made under the lock and written as a
// guarded, fenced write: ZooKeeper applies it only while the seller still
// holds the lock, and only with a fencing token no older than the last
// sale's. The same write leaves a receipt, so that a seller who never hears
// back can find out whether its sale was made. The program prints items
// sold, items oversold (always 0) and how long workers waited for and held
// the lock.
//
//	go run ./examples/inventory [-workers 4] [-items 40] [-kill] [-expire]
//
// -kill SIGKILLs one worker while it holds the lock: nobody releases it,
// and ZooKeeper does, when the dead worker's session expires.
//
// -expire makes the worker that sells the first item lose the reply, and
// then its session: ZooKeeper made the sale, the worker never heard so. It
// reads the receipt back to find out, and carries on with a new session.
//
// It uses the ensemble in ZK_SERVERS when set, and otherwise starts a
// throwaway ZooKeeper in Docker through the test harness.
package main

import (
	"bufio"
	"context"
	"errors"
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
	stockPath = "/inventory/stock" // "REMAINING TOKEN"; its children are the receipts
	lockPath  = "/inventory/lock"
)

// acl is the ACL of the nodes the example makes: open to all.
var acl = zk.WorldACL(zk.PermAll)

func main() {
	worker := flag.Bool("worker", false, "run as one worker (used by the program itself)")
	workers := flag.Int("workers", 4, "worker processes")
	items := flag.Int("items", 40, "items in stock at the start")
	kill := flag.Bool("kill", false, "kill one worker while it holds the lock")
	expire := flag.Bool("expire", false, "make the first sale's worker lose its reply, then its session")
	flag.Parse()
	log.SetFlags(0)
	if *worker {
		servers := strings.Split(os.Getenv("ZK_SERVERS"), ",")
		if *expire {
			servers = loseFirstSaleReply(servers)
		}
		if err := runWorker(servers); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := runShop(*workers, *items, *kill, *expire); err != nil {
		log.Fatal(err)
	}
}

// runShop fills the stock, starts the workers and reports.
func runShop(workers, items int, kill, expire bool) error {
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
	// A container: the server deletes it once its last child is gone.
	if _, err := s.Conn().CreateContainer("/inventory", nil, zk.FlagContainer, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	closeShop(s.Conn())
	if _, err := s.Conn().Create(stockPath, encode(items, 0), 0, acl); err != nil {
		return err
	}
	defer closeShop(s.Conn())

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
		if expire {
			cmd.Args = append(cmd.Args, "-expire")
		}
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
				case f[0] == "reply-lost":
					fmt.Printf("worker %d lost the reply to a sale; its receipt shows the sale was made\n", i)
				case f[0] == "new-session":
					fmt.Printf("worker %d lost its session and started a new one\n", i)
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
	receipts, _, err := s.Conn().Children(stockPath)
	if err != nil {
		return err
	}
	fmt.Printf("items sold:      %d of %d (%d left)\n", sold, items, remaining)
	fmt.Printf("items oversold:  %d\n", max(0, sold-items))
	fmt.Printf("lock wait:       median %v, max %v\n", median(waits), slices.Max(append(waits, 0)))
	fmt.Printf("lock hold:       median %v, max %v\n", median(holds), slices.Max(append(holds, 0)))
	if sold+remaining != items || len(receipts) != sold {
		return fmt.Errorf("stock record says %d left and %d receipts after %d sales of %d", remaining, len(receipts), sold, items)
	}
	return nil
}

// closeShop deletes the stock record and its receipts.
func closeShop(conn *zk.Conn) {
	receipts, _, _ := conn.Children(stockPath)
	for _, r := range receipts {
		conn.Delete(stockPath+"/"+r, -1)
	}
	conn.Delete(stockPath, -1)
}

// runWorker sells until the stock is empty. A lost session is dead: the
// worker then starts a new one and carries on.
func runWorker(servers []string) error {
	for {
		soldOut, err := work(servers)
		if soldOut || !errors.Is(err, recipes.ErrSessionLost) {
			return err
		}
		fmt.Println("new-session")
	}
}

// work sells with one session until the stock is empty or the session
// fails. It prints "holding" each time it holds the lock and "sale WAIT
// HOLD" for each sale.
func work(servers []string) (soldOut bool, err error) {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers, recipes.WithSessionTimeout(2*time.Second))
	if err != nil {
		return false, err
	}
	defer s.Close()
	m, err := lock.New(s, lockPath)
	if err != nil {
		return false, err
	}
	for {
		start := time.Now()
		h, err := m.Lock(ctx)
		if err != nil {
			return false, err
		}
		held := time.Now()
		fmt.Println("holding")
		soldOut, made, err := sell(ctx, s, h, servers)
		if made {
			fmt.Println("sale", held.Sub(start), time.Since(held))
		}
		h.Unlock(ctx)
		if soldOut || err != nil {
			return soldOut, err
		}
	}
}

// sell takes one item off the stock with a write that ZooKeeper applies only
// if this worker still holds the lock (the guard) and the record is
// unchanged since it was read; the record keeps the last sale's fencing
// token, and a sale with an older token is refused. The same write creates
// the sale's receipt, named by the hold's token (one sale per hold).
func sell(ctx context.Context, s *recipes.Session, h *lock.Hold, servers []string) (soldOut, made bool, err error) {
	data, st, err := s.Conn().Get(stockPath)
	if err != nil {
		return false, false, nil // nothing sold: try again
	}
	remaining, last := decode(data)
	if remaining == 0 {
		return true, false, nil
	}
	if h.Token() < last {
		return false, false, fmt.Errorf("stale fencing token %d < %d", h.Token(), last)
	}
	time.Sleep(5 * time.Millisecond) // processing the order
	receipt := fmt.Sprintf("%s/%d", stockPath, h.Token())
	beforeSale(last == 0) // the -expire fault (fault.go): nothing otherwise
	_, err = h.Multi(ctx,
		&zk.SetDataRequest{Path: stockPath, Data: encode(remaining-1, h.Token()), Version: st.Version},
		&zk.CreateRequest{Path: receipt, Acl: acl})
	if err == nil {
		return false, true, nil
	}
	// The sale failed, or its reply was lost: when the connection drops or
	// the session expires after the write is sent, ZooKeeper may have made
	// the sale or not. Never guess: the receipt exists exactly if it did.
	if made, err = wasMade(ctx, s, servers, receipt); made {
		fmt.Println("reply-lost") // made, yet Multi failed: only the reply was lost
	}
	return false, made, err
}

// wasMade reads the receipt back: through s once it is connected again, or
// through a new session if s is lost (ZooKeeper said it expired, so nothing
// s sent can still be applied). The sync makes the server we ask catch up
// with the leader first.
func wasMade(ctx context.Context, s *recipes.Session, servers []string, receipt string) (bool, error) {
	if err := s.WaitConnected(ctx); errors.Is(err, recipes.ErrSessionLost) {
		if s, err = recipes.Connect(ctx, servers); err != nil {
			return false, err
		}
		defer s.Close()
	} else if err != nil {
		return false, err
	}
	if _, err := s.Conn().Sync(stockPath); err != nil {
		return false, err
	}
	made, _, err := s.Conn().Exists(receipt)
	return made, err
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
