package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandEnvReplacesAnOuterZkrsValues: under a nested zkr (zkr lock
// /a -- zkr lock /b -- CMD), CMD's environment has the inner zkr's path
// and token once, not the outer's first: glibc's getenv, Python and Go
// all read the first of two entries of one key. Other variables stay.
func TestCommandEnvReplacesAnOuterZkrsValues(t *testing.T) {
	t.Setenv("ZKR_LOCK_PATH", "/a")
	t.Setenv("ZKR_FENCING_TOKEN", "1")
	t.Setenv("ZKR_TEST_OTHER", "kept")
	env := commandEnv("ZKR_LOCK_PATH=/b", "ZKR_FENCING_TOKEN=2")
	var zkr []string
	for _, e := range env {
		if strings.HasPrefix(e, "ZKR_") {
			zkr = append(zkr, e)
		}
	}
	assert.ElementsMatch(t, []string{"ZKR_TEST_OTHER=kept", "ZKR_LOCK_PATH=/b", "ZKR_FENCING_TOKEN=2"}, zkr)

	// What a program run with it reads.
	cmd := exec.Command("sh", "-c", `printf '%s %s' "$ZKR_LOCK_PATH" "$ZKR_FENCING_TOKEN"`)
	cmd.Env = env
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "/b 2", string(out))
}
