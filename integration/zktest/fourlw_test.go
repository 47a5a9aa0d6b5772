package zktest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A starting ZooKeeper 3.8 may answer srvr and never close the connection,
// so Mode must know from the reply alone when it has read enough.
func TestSrvrCompleteWithoutClose(t *testing.T) {
	serving := "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nReceived: 3\nSent: 2\n" +
		"Connections: 1\nOutstanding: 0\nZxid: 0x4\nMode: standalone\nNode count: 5\n"
	tests := []struct {
		name string
		out  string
		want bool
	}{
		{"nothing yet", "", false},
		{"not serving", "This ZooKeeper instance is not currently serving requests\n", true},
		{"whole reply", serving, true},
		{"up to the mode line", serving[:len(serving)-len("Node count: 5\n")], true},
		{"mode line cut short", serving[:len(serving)-len("ndalone\nNode count: 5\n")], false},
		{"before the mode line", serving[:len(serving)-len("Mode: standalone\nNode count: 5\n")], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, srvrComplete(tt.out))
		})
	}
}
