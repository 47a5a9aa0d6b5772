package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseMaxHoldDeclarations(t *testing.T) {
	tests := []struct {
		data string
		d    time.Duration
		decl string // "" for none
		rest string // what others read: withoutMaxHold
	}{
		{"host:1 zkrecipes-max-hold=1s", time.Second, "1s", "host:1"},
		{"host:1 zkrecipes-max-hold=1.5s extended=2", 1500 * time.Millisecond, "1.5s extended=2", "host:1"},
		{" zkrecipes-max-hold=2m0s", 2 * time.Minute, "2m0s", ""},
		{"a zkrecipes-max-hold=9s b zkrecipes-max-hold=3s", 3 * time.Second, "3s", "a zkrecipes-max-hold=9s b"},
		// None: never evicted, and shown as written.
		{"10.0.0.1", 0, "", "10.0.0.1"},
		{"", 0, "", ""},
		{"__REVOKE__", 0, "", "__REVOKE__"},
		{"host zkrecipes-max-hold=", 0, "", "host zkrecipes-max-hold="},
		{"host zkrecipes-max-hold=0s", 0, "", "host zkrecipes-max-hold=0s"},
		{"host zkrecipes-max-hold=-1s", 0, "", "host zkrecipes-max-hold=-1s"},
		{"host zkrecipes-max-hold=soon", 0, "", "host zkrecipes-max-hold=soon"},
		{"host zkrecipes-max-hold=1s extended=0", 0, "", "host zkrecipes-max-hold=1s extended=0"},
		{"host zkrecipes-max-hold=1s extended=01", 0, "", "host zkrecipes-max-hold=1s extended=01"},
		{"host zkrecipes-max-hold=1s extended=x", 0, "", "host zkrecipes-max-hold=1s extended=x"},
		{"host zkrecipes-max-hold=1s extended=", 0, "", "host zkrecipes-max-hold=1s extended="},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			d, ok := DeclaredMaxHold([]byte(tt.data))
			assert.Equal(t, tt.d, d)
			assert.Equal(t, tt.d > 0, ok)
			decl, ok := declaration([]byte(tt.data))
			assert.Equal(t, tt.decl, decl)
			assert.Equal(t, tt.decl != "", ok)
			assert.Equal(t, tt.rest, string(withoutMaxHold([]byte(tt.data))))
		})
	}
}

// TestEveryExtensionIsANewDeclaration: the enforcer times a holder anew
// when its declaration changes, so an Extend must change it even when it
// declares the same duration, and the same count must give the same one.
func TestEveryExtensionIsANewDeclaration(t *testing.T) {
	seen := map[string]bool{}
	for n := range 5 {
		data := declare([]byte("id"), time.Second, n)
		decl, ok := declaration(data)
		assert.True(t, ok)
		assert.False(t, seen[decl], "extension %d declares %q again", n, decl)
		seen[decl] = true
		again, _ := declaration(declare([]byte("other"), time.Second, n))
		assert.Equal(t, decl, again)
	}
	assert.Equal(t, []byte("id"), declare([]byte("id"), 0, 3), "no max hold, nothing declared")
}

// FuzzMaxHoldDeclaration: whatever a client wrote before it, a declaration
// reads back as declared, and what others read is what the client wrote;
// any data parses without a panic.
func FuzzMaxHoldDeclaration(f *testing.F) {
	f.Add([]byte("host:1"), int64(time.Second), 0)
	f.Add([]byte("x zkrecipes-max-hold=1s"), int64(time.Millisecond), 3)
	f.Add([]byte("__REVOKE__"), int64(-1), -1)
	f.Fuzz(func(t *testing.T, data []byte, d int64, n int) {
		DeclaredMaxHold(data)
		withoutMaxHold(data)
		if d <= 0 || n < 0 {
			return
		}
		got := declare(data, time.Duration(d), n)
		v, ok := DeclaredMaxHold(got)
		if !ok || v != time.Duration(d) {
			t.Fatalf("declared %v, read %v %v from %q", time.Duration(d), v, ok, got)
		}
		if rest := withoutMaxHold(got); string(rest) != string(data) {
			t.Fatalf("others read %q, the client wrote %q", rest, data)
		}
	})
}
