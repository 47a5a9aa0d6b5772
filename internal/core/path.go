package core

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxPathLength is the longest recipe path accepted, in bytes. ZooKeeper has
// no fixed limit, but a path this long is a mistake, and every child name
// adds about 60 bytes to it.
const MaxPathLength = 1024

// ValidatePath reports whether p can be the path of a recipe; the error
// wraps ErrInvalidPath. recipes.ValidatePath documents the rules.
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
		if bad := badChar(r); bad != "" {
			return fmt.Sprintf("%s %U", bad, r)
		}
	}
	return ""
}

// badChar applies the server's character rule to the UTF-16 code units of
// r, one unit for a character of the Basic Multilingual Plane and two
// surrogates for any other.
func badChar(r rune) string {
	var buf [2]uint16
	for _, u := range utf16.AppendRune(buf[:0], r) {
		switch {
		case u == 0:
			return "NUL character"
		case u < 0x20, u >= 0x7f && u <= 0x9f:
			return "control character"
		case u >= 0xd800 && u <= 0xdfff:
			return "character outside the Basic Multilingual Plane (the server refuses its UTF-16 surrogates)"
		case u >= 0xe000 && u <= 0xf8ff:
			return "private-use character"
		case u >= 0xfff0:
			return "special character"
		}
	}
	return ""
}
