package recipes

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxPathLength is the longest recipe path accepted, in bytes. ZooKeeper has
// no fixed limit, but a path this long is a mistake, and every child name
// adds about 60 bytes to it.
const MaxPathLength = 1024

// ValidatePath reports whether p can be the path of a recipe: absolute, no
// empty, "." or ".." parts, no trailing slash, not the root and not under
// the reserved /zookeeper, no characters ZooKeeper rejects, and at most
// MaxPathLength bytes. The error wraps ErrInvalidPath.
func ValidatePath(p string) error {
	if reason := pathProblem(p); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidPath, p, reason)
	}
	return nil
}

func pathProblem(p string) string {
	switch {
	case p == "":
		return "empty"
	case len(p) > MaxPathLength:
		return fmt.Sprintf("longer than %d bytes", MaxPathLength)
	case !utf8.ValidString(p):
		return "not valid UTF-8"
	case p[0] != '/':
		return "not absolute (no leading /)"
	case p == "/":
		return "the root cannot hold a recipe"
	case strings.HasSuffix(p, "/"):
		return "trailing /"
	}
	for part := range strings.SplitSeq(p[1:], "/") {
		switch part {
		case "":
			return "empty part (//)"
		case ".", "..":
			return "relative part " + part
		}
	}
	if p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") {
		return "under /zookeeper, which the server reserves"
	}
	for _, r := range p {
		if bad := badRune(r); bad != "" {
			return fmt.Sprintf("%s %U", bad, r)
		}
	}
	return ""
}

// badRune mirrors the server's PathUtils: control characters, surrogates,
// private use and specials are refused.
func badRune(r rune) string {
	switch {
	case r == 0:
		return "NUL character"
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return "control character"
	case r >= 0xd800 && r <= 0xf8ff:
		return "surrogate or private-use character"
	case r >= 0xfff0 && r <= 0xffff:
		return "special character"
	}
	return ""
}
