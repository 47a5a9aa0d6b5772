package zktest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Labels on everything Run makes, so that what a crashed test process left
// behind can be found and removed without Ryuk.
const (
	labelHost = "org.zkrecipes.zktest.host"
	labelPID  = "org.zkrecipes.zktest.pid"
)

func ownerLabels() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{labelHost: host, labelPID: strconv.Itoa(os.Getpid())}
}

// reapOrphans removes containers and networks that Run made on this host for
// processes that no longer run. It is best effort: a failure only leaves
// them for the next Run.
func reapOrphans(ctx context.Context) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return
	}
	defer cli.Close()
	host, _ := os.Hostname()
	filters := make(client.Filters).Add("label", labelHost+"="+host)

	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err == nil {
		for _, c := range ctrs.Items {
			if orphaned(c.Labels) {
				cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filters})
	if err == nil {
		for _, n := range nets.Items {
			if orphaned(n.Labels) {
				cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			}
		}
	}
}

func orphaned(labels map[string]string) bool {
	pid, err := strconv.Atoi(labels[labelPID])
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}
