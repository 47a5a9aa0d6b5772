package recipes

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/locks/jobs", true},
		{"/a", true},
		{"/a/b-c_d.e/f", true},
		{"/こんにちは", true},
		{"/a..b", true},
		{"/" + strings.Repeat("a", MaxPathLength-1), true},
		{"", false},
		{"/", false},
		{"a/b", false},
		{"/a/", false},
		{"/a//b", false},
		{"/a/./b", false},
		{"/a/../b", false},
		{"/..", false},
		{"/a\x00b", false},
		{"/a\x1fb", false},
		{"/a\u0085b", false},
		{"/a\ud7ffb", true},
		{"/a\ue000b", false},
		{"/a\ufff5b", false},
		{"/a\xffb", false},
		{"/zookeeper", false},
		{"/zookeeper/quota", false},
		{"/zookeeperish", true},
		{"/" + strings.Repeat("a", MaxPathLength), false},
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		if tt.ok {
			assert.NoError(t, err, "%q", tt.path)
		} else if assert.Error(t, err, "%q", tt.path) {
			assert.True(t, errors.Is(err, ErrInvalidPath), "%q: %v", tt.path, err)
		}
	}
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/a/b", "", "/", "//", "/a/../b", "/zookeeper", "/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidatePath(p) != nil {
			return
		}
		// Whatever passes must be a path the server accepts as a parent.
		if p[0] != '/' || strings.HasSuffix(p, "/") || strings.Contains(p, "//") ||
			strings.Contains(p+"/", "/./") || strings.Contains(p+"/", "/../") ||
			strings.ContainsRune(p, 0) || len(p) > MaxPathLength {
			t.Fatalf("ValidatePath(%q) accepted a bad path", p)
		}
	})
}
