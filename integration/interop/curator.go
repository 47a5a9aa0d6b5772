package interop

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed curator/CuratorDriver.java
var curatorDriver []byte

// CuratorJars are the jars the driver compiles and runs against, as Debian's
// libcurator-recipes-java installs them; their manifests name the rest.
var CuratorJars = []string{
	"/usr/share/java/curator-recipes.jar",
	"/usr/share/java/curator-framework.jar",
	"/usr/share/java/curator-client.jar",
	"/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar",
	"/usr/share/java/guava.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-nop.jar",
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// build compiles the driver once per test binary.
func build() (string, error) {
	buildOnce.Do(func() {
		for _, jar := range CuratorJars {
			if _, err := os.Stat(jar); err != nil {
				buildErr = fmt.Errorf("interop: %s missing (install libcurator-recipes-java): %w", jar, err)
				return
			}
		}
		dir, err := os.MkdirTemp("", "curator-driver-")
		if err != nil {
			buildErr = err
			return
		}
		src := filepath.Join(dir, "CuratorDriver.java")
		if err := os.WriteFile(src, curatorDriver, 0o644); err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command("javac", "-cp", strings.Join(CuratorJars, ":"), "-d", dir, src).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("interop: javac: %w\n%s", err, out)
			return
		}
		buildDir = dir
	})
	return buildDir, buildErr
}

// StartCuratorDriver starts the Curator driver (a Java process) connected
// to connect, a connect string, and waits until it is connected. Stop it
// when done. Its stderr goes to stderr.
func StartCuratorDriver(ctx context.Context, connect string, stderr io.Writer) (*Driver, error) {
	return startCurator(ctx, connect, stderr, nil)
}

// nettyJars are what ZooKeeper's Netty client socket needs besides the
// jars zookeeper.jar's manifest names (as the server does: see
// scripts/zkimage/zkServer.sh).
var nettyJars = []string{
	"/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar",
	"/usr/share/java/netty-transport-native-unix-common.jar",
}

func startCurator(ctx context.Context, connect string, stderr io.Writer, jvm []string) (*Driver, error) {
	dir, err := build()
	if err != nil {
		return nil, err
	}
	cp := strings.Join(append(append([]string{dir}, CuratorJars...), nettyJars...), ":")
	args := append(append([]string{"-Xmx512m", "-XX:+UseSerialGC"}, jvm...), "-cp", cp, "CuratorDriver", connect)
	return start(ctx, "curator", exec.Command("java", args...), stderr)
}

// StartCuratorTLS starts the Curator driver for a test, its ZooKeeper
// client speaking TLS (Netty's client socket) to connect, the servers'
// secure ports, and verifying them with the PEM file ca.
func StartCuratorTLS(t testing.TB, connect, ca string) *Driver {
	t.Helper()
	jvm := []string{
		"-Dzookeeper.client.secure=true",
		"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.trustStore.location=" + ca, "-Dzookeeper.ssl.trustStore.type=PEM",
	}
	return startForTest(t, "curator", connect, func(ctx context.Context, connect string, stderr io.Writer) (*Driver, error) {
		return startCurator(ctx, connect, stderr, jvm)
	})
}

// StartCurator starts the Curator driver for a test (failing it if that is
// impossible) and stops it when the test ends.
func StartCurator(t testing.TB, connect string) *Driver {
	t.Helper()
	return startForTest(t, "curator", connect, StartCuratorDriver)
}

// startForTest starts a driver for a test and stops it when the test ends.
func startForTest(t testing.TB, name, connect string, start func(context.Context, string, io.Writer) (*Driver, error)) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := start(ctx, connect, testWriter{t, name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// testWriter sends a driver's stderr to the test log.
type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
