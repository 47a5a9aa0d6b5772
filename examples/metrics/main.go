// Command metrics runs an inventory workload with its metrics served for
// Prometheus: workers, each with a ZooKeeper session of its own, sell
// items from one stock record under a lock, with guarded writes, while an
// OpenTelemetry SDK with the Prometheus exporter serves the recipes'
// instruments at /metrics. When the stock is sold, it prints the
// zkrecipes series of one scrape of its own endpoint.
//
//	go run ./examples/metrics [-workers 4] [-items 40] [-listen 127.0.0.1:9464] [-serve 0s]
//
// -serve keeps serving that long after the sale, to point a Prometheus at.
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
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

const (
	stockPath = "/examples/metrics/stock"
	lockPath  = "/examples/metrics/lock"
)

func main() {
	workers := flag.Int("workers", 4, "workers, each with a session of its own")
	items := flag.Int("items", 40, "items in stock at the start")
	listen := flag.String("listen", "127.0.0.1:9464", "where to serve /metrics")
	serve := flag.Duration("serve", 0, "keep serving this long after the sale")
	flag.Parse()
	ctx := context.Background()

	// The application's choice: an SDK, and Prometheus's exporter.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		log.Fatal(err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer provider.Shutdown(ctx)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	fmt.Printf("serving metrics at http://%s/metrics\n", ln.Addr())

	servers, stop, err := zktest.ServersOrStart(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	admin, err := recipes.Connect(ctx, servers)
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	if err := setStock(admin, *items); err != nil {
		log.Fatal(err)
	}

	var wg sync.WaitGroup
	for range *workers {
		s, err := recipes.Connect(ctx, servers, recipes.WithMeterProvider(provider))
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		m, err := lock.New(s, lockPath)
		if err != nil {
			log.Fatal(err)
		}
		wg.Go(func() {
			for {
				sold, err := sell(ctx, s, m)
				if err != nil {
					log.Fatal(err)
				}
				if !sold {
					return
				}
			}
		})
	}
	wg.Wait()
	fmt.Printf("sold %d items; the recipes' metrics, from http://%s/metrics:\n", *items, ln.Addr())
	if err := printSeries("http://"+ln.Addr().String()+"/metrics", "zkrecipes_"); err != nil {
		log.Fatal(err)
	}
	time.Sleep(*serve) // for a Prometheus to scrape, if asked
}

// setStock writes the stock record, making it if need be.
func setStock(s *recipes.Session, items int) error {
	data := []byte(strconv.Itoa(items))
	_, err := s.Conn().Create("/examples", nil, 0, zk.WorldACL(zk.PermAll))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	_, err = s.Conn().Create("/examples/metrics", nil, 0, zk.WorldACL(zk.PermAll))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	if _, err = s.Conn().Create(stockPath, data, 0, zk.WorldACL(zk.PermAll)); errors.Is(err, zk.ErrNodeExists) {
		_, err = s.Conn().Set(stockPath, data, -1)
	}
	return err
}

// sell sells one item under the lock, with a write guarded by the hold,
// and reports whether there was one to sell.
func sell(ctx context.Context, s *recipes.Session, m *lock.Mutex) (bool, error) {
	h, err := m.Lock(ctx)
	if err != nil {
		return false, err
	}
	defer h.Unlock(ctx)
	data, st, err := s.Conn().Get(stockPath)
	if err != nil {
		return false, err
	}
	left, err := strconv.Atoi(string(data))
	if err != nil || left == 0 {
		return false, err
	}
	time.Sleep(2 * time.Millisecond) // the sale's work, under the lock
	_, err = h.Multi(ctx, &zk.SetDataRequest{Path: stockPath, Data: []byte(strconv.Itoa(left - 1)), Version: st.Version})
	return err == nil, err
}

// printSeries prints the lines of the page at url that start with prefix.
func printSeries(url, prefix string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			fmt.Println(sc.Text())
		}
	}
	return sc.Err()
}
