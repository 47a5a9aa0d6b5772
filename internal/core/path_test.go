package core

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathCases are the paths the tests below try, with what ValidatePath says.
var pathCases = []struct {
	path string
	ok   bool
}{
	{"/locks/jobs", true},
	{"/a", true},
	{"/a/b-c_d.e/f", true},
	{"/a b", true},
	{"/こんにちは", true},
	{"/a..b", true},
	{"/...", true},
	{"/.a", true},
	{"/a.", true},
	{"/" + strings.Repeat("a", MaxPathLength-1), true},
	{"", false},
	{"/", false},
	{"a/b", false},
	{"/a/", false},
	{"/a//b", false},
	{"//a", false},
	{"/a/./b", false},
	{"/a/../b", false},
	{"/.", false},
	{"/..", false},
	{"/a/.", false},
	{"/a/..", false},
	// The server's characters, checked as UTF-16 code units.
	{"/a\x00b", false},
	{"/a\x01b", false},
	{"/a\x1fb", false},
	{"/a\x20b", true},
	{"/a~b", true},
	{"/a\x7fb", false},
	{"/a\u0080b", false},
	{"/a\u0085b", false},
	{"/a\u009fb", false},
	{"/a\u00a0b", true},
	{"/a\ud7ffb", true},
	{"/a\ue000b", false},
	{"/a\uf8ffb", false},
	{"/a\uf900b", true},
	{"/a\uffefb", true},
	{"/a\ufff0b", false},
	{"/a\ufff5b", false},
	{"/a\ufffdb", false},
	{"/a\uffffb", false},
	// Outside the Basic Multilingual Plane: two surrogates in UTF-16.
	{"/a/emoji-😀", false},
	{"/a\U00010000b", false},
	{"/a\U0010ffffb", false},
	// Not UTF-8: the server would decode U+FFFD.
	{"/a\xffb", false},
	{"/a\xed\xa0\x80b", false}, // a surrogate encoded on its own
	{"/a\xc0\xafb", false},     // an overlong "/"
	{"/a\xf4\x90\x80\x80b", false},
	{"/a\xe3\x81b", false}, // cut short
	// Stricter than the server, on purpose.
	{"/zookeeper", false},
	{"/zookeeper/quota", false},
	{"/zookeeperish", true},
	{"/" + strings.Repeat("a", MaxPathLength), false},
}

func TestValidatePath(t *testing.T) {
	for _, tt := range pathCases {
		err := ValidatePath(tt.path)
		if tt.ok {
			assert.NoError(t, err, "%q", tt.path)
		} else if assert.Error(t, err, "%q", tt.path) {
			assert.True(t, errors.Is(err, ErrInvalidPath), "%q: %v", tt.path, err)
		}
	}
	assert.ErrorContains(t, ValidatePath("/a/emoji-😀"), "U+1F600")
}

// serverAccepts restates the server's rule, ZooKeeper's
// PathUtils.validatePath, over the UTF-16 code units Java decodes the path
// to (bytes that are not UTF-8 become U+FFFD, as they do in Java).
func serverAccepts(p string) bool {
	c := utf16.Encode([]rune(p))
	switch {
	case len(c) == 0 || c[0] != '/':
		return false
	case len(c) == 1:
		return true
	case c[len(c)-1] == '/':
		return false
	}
	for i := 1; i < len(c); i++ {
		u, last := c[i], c[i-1]
		end := i+1 == len(c) || c[i+1] == '/'
		switch {
		case u == 0:
			return false
		case u == '/' && last == '/':
			return false
		case u == '.' && last == '.':
			if c[i-2] == '/' && end {
				return false
			}
		case u == '.':
			if last == '/' && end {
				return false
			}
		case u <= 0x1f, u >= 0x7f && u <= 0x9f, u >= 0xd800 && u <= 0xf8ff, u >= 0xfff0:
			return false
		}
	}
	return true
}

// deliberatelyStricter reports whether ValidatePath refuses p by a rule of
// its own that the server does not have.
func deliberatelyStricter(p string) bool {
	return p == "/" || p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") || len(p) > MaxPathLength
}

func TestServerRuleRestatedMatchesTheCases(t *testing.T) {
	for _, tt := range pathCases {
		if !deliberatelyStricter(tt.path) {
			assert.Equal(t, tt.ok, serverAccepts(tt.path), "%q", tt.path)
		}
	}
}

func FuzzValidatePath(f *testing.F) {
	for _, tt := range pathCases {
		f.Add(tt.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidatePath(p)
		if err != nil && !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("ValidatePath(%q) = %v, which is not ErrInvalidPath", p, err)
		}
		if again := ValidatePath(p); (again == nil) != (err == nil) {
			t.Fatalf("ValidatePath(%q) changed its mind: %v, then %v", p, err, again)
		}
		switch server := serverAccepts(p); {
		case err == nil && !server:
			t.Fatalf("ValidatePath(%q) accepted a path the server refuses", p)
		case err != nil && server && !deliberatelyStricter(p):
			t.Fatalf("ValidatePath(%q) refused a path the server accepts: %v", p, err)
		}
	})
}

// TestValidatePathAgreesWithTheServer sends each path to a real server as a
// create, under a parent of its own: every path ValidatePath accepts, the
// server creates; every path it refuses, the server refuses as bad
// arguments, except where ValidatePath is stricter on purpose. The creates
// go in a multi, which go-zookeeper sends without checking the path itself.
func TestValidatePathAgreesWithTheServer(t *testing.T) {
	conn := testSession(t).Conn()
	base := "/validate-path-" + uuid.NewString()
	var created []string
	t.Cleanup(func() {
		for _, p := range slices.Backward(created) {
			_, err := conn.Multi(&zk.DeleteRequest{Path: p, Version: -1})
			assert.NoError(t, err, "delete %q", p)
		}
	})
	create := func(p string) error {
		res, err := conn.Multi(&zk.CreateRequest{Path: p, Acl: zk.WorldACL(zk.PermAll)})
		if err == nil && len(res) == 1 {
			err = res[0].Error
		}
		if err == nil {
			created = append(created, p)
		}
		return err
	}
	require.NoError(t, create(base))

	var corpus []string
	for _, tt := range pathCases {
		corpus = append(corpus, tt.path)
	}
	// Every boundary of the server's character ranges, and beyond.
	for _, r := range []rune{
		0x01, 0x1f, 0x20, 0x2e, 0x7e, 0x7f, 0x9f, 0xa0, 0x7ff, 0x800, 0xd7ff, 0xe000,
		0xf8ff, 0xf900, 0xffef, 0xfff0, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff,
	} {
		corpus = append(corpus, "/c-"+string(r), "/"+string(r))
	}
	slices.Sort(corpus)
	for _, p := range slices.Compact(corpus) {
		full := p
		if strings.HasPrefix(p, "/") {
			full = base + p // under our own parent, keeping the path's shape
		}
		// Make the ancestors that can exist, so that the server judges
		// the path itself rather than refuse it for a missing parent.
		for i := len(base) + 1; i < len(full); i++ {
			if anc := full[:i]; full[i] == '/' && strings.HasPrefix(full, base+"/") && ValidatePath(anc) == nil {
				if err := create(anc); !errors.Is(err, zk.ErrNodeExists) {
					require.NoError(t, err, "ancestor %q of %q", anc, full)
				}
			}
		}
		err := ValidatePath(full)
		switch {
		case err == nil:
			assert.NoError(t, create(full), "%q passes ValidatePath", full)
		case deliberatelyStricter(full):
		default:
			// The server checks a create's parent before the path: a path
			// whose parent cannot exist is refused as having none.
			parent := full[:max(strings.LastIndexByte(full, '/'), 0)]
			if serr := create(full); !errors.Is(serr, zk.ErrBadArguments) {
				assert.ErrorIs(t, serr, zk.ErrNoNode, "%q (ValidatePath: %v)", full, err)
				assert.Error(t, ValidatePath(parent), "%q refused for its parent %q", full, parent)
			}
		}
	}
}
