package recipes

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// TestSurfaceIsTheUsersOnly lists every exported identifier of the
// package, methods included: what users type, and nothing of the
// machinery, which is internal. A new one is a decision, made here.
func TestSurfaceIsTheUsersOnly(t *testing.T) {
	files, err := os.ReadDir(".")
	require.NoError(t, err)
	var have []string
	for _, fi := range files {
		if !strings.HasSuffix(fi.Name(), ".go") || strings.HasSuffix(fi.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), fi.Name(), nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			have = append(have, exported(d)...)
		}
	}
	slices.Sort(have)
	want := []string{
		"Connect", "Contender", "Contenders",
		"DefaultPollInterval", "DefaultSessionTimeout",
		"ErrForeignNode", "ErrInvalidPath", "ErrLost", "ErrMaxHoldExceeded", "ErrNodeDeleted", "ErrNodeMismatch",
		"ErrNotHeld", "ErrSessionClosed", "ErrSessionLost", "ErrSuspended", "ErrWouldBlock", "EvictionMargin",
		"Holding", "Holding.Context", "Holding.Done", "Holding.Err", "Holding.Extend", "Holding.Guard",
		"Holding.Multi", "Holding.Path", "Holding.RevokeRequested", "Holding.Token",
		"NewSession", "Option", "Revoke", "Session",
		"Session.Close", "Session.Conn", "Session.Done", "Session.Err", "Session.ID",
		"Session.State", "Session.WaitConnected",
		"State", "State.String", "StateClosed", "StateConnected", "StateConnecting",
		"StateLost", "StateSuspended",
		"ValidatePath",
		"WithACL", "WithAuth", "WithDialer", "WithIdentity", "WithLogger", "WithMeterProvider", "WithPollInterval",
		"WithSessionTimeout", "WithTLS", "WithTolerateSuspension", "WithTracerProvider", "WithoutPathAttribute",
	}
	assert.Equal(t, want, have)
}

// exported returns the exported names a declaration adds, methods as
// "Type.Method".
func exported(d ast.Decl) []string {
	var out []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			break
		}
		name := d.Name.Name
		if d.Recv != nil {
			typ := d.Recv.List[0].Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			name = typ.(*ast.Ident).Name + "." + name
		}
		out = append(out, name)
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch spec := spec.(type) {
			case *ast.TypeSpec:
				if spec.Name.IsExported() {
					out = append(out, spec.Name.Name)
				}
			case *ast.ValueSpec:
				for _, n := range spec.Names {
					if n.IsExported() {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	return out
}

// TestDefaultsAreTheCores: the defaults and states documented here are the
// core's.
func TestDefaultsAreTheCores(t *testing.T) {
	c := configure(nil)
	d := core.DefaultConfig()
	assert.Equal(t, DefaultSessionTimeout, d.Timeout)
	assert.Equal(t, DefaultPollInterval, d.PollInterval)
	assert.Equal(t, core.EvictionMargin, EvictionMargin)
	assert.Equal(t, d.Timeout, c.Timeout)
	assert.False(t, c.TimeoutSet)
	for st, c := range map[State]core.State{StateConnecting: core.StateConnecting,
		StateConnected: core.StateConnected, StateSuspended: core.StateSuspended,
		StateLost: core.StateLost, StateClosed: core.StateClosed} {
		assert.Equal(t, State(c), st, "%v", c)
		assert.Equal(t, c.String(), st.String())
	}
	assert.Equal(t, "closed", StateClosed.String())
}

// TestSurfaceHasNoTelemetrySDK: the library speaks OpenTelemetry through
// its API packages only; which SDK (if any) records is the application's
// choice, so no library package may pull one in.
func TestSurfaceHasNoTelemetrySDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}",
		"../recipes", "../lock", "../rwlock", "../leader", "../semaphore", "../multilock", "../barrier").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	assert.Contains(t, deps, "go.opentelemetry.io/otel/metric", "the test looks at the wrong graph")
	for _, d := range deps {
		assert.False(t, strings.HasPrefix(d, "go.opentelemetry.io/otel/sdk"), "a library package imports %s", d)
	}
}
