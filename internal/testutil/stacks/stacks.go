// Package stacks gives tests the stack of every goroutine of the process,
// to find goroutines by the functions on their stacks. It imports nothing
// of this module, so that the core's own tests can use it.
package stacks

import (
	"runtime"
	"strings"
)

// All returns the stack of every goroutine of the process, one string
// each, starting "goroutine N [state]:".
func All() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}
