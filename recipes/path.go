package recipes

import "github.com/zkrecipes/zkrecipes/internal/core"

// ValidatePath reports whether p can be the path of a recipe, as every
// recipe's constructor checks it; the error wraps [ErrInvalidPath]. It
// makes no call to the server, so a program can check its configuration
// before it connects.
//
// It refuses every path the server refuses (the rules of ZooKeeper's
// PathUtils.validatePath): a path must be absolute, with no empty, "." or
// ".." parts and no trailing slash, and none of the UTF-16 code units the
// server checks may be NUL, a control character (U+0001–U+001F,
// U+007F–U+009F), a surrogate or private-use unit (U+D800–U+F8FF) or a
// special (U+FFF0–U+FFFF). The server sees the path as Java does, in
// UTF-16, so every character outside the Basic Multilingual Plane (an
// emoji, say) is refused too: it is written as two surrogates. Bytes that
// are not UTF-8 are refused as well; the server would decode them as
// U+FFFD and refuse that.
//
// It is stricter than the server on purpose in three ways: the root cannot
// hold a recipe, nor can /zookeeper or anything under it (the server keeps
// them for itself), and a path is at most 1024 bytes: every child name
// adds about 60 bytes to it.
func ValidatePath(p string) error { return core.ValidatePath(p) }
