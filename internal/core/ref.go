package core

import (
	"context"
	"errors"
)

// Ref carries a core value inside a public type of package recipes
// (recipes.Session, recipes.Holding), which embeds it under an unexported
// alias: the public type then has no exported field and no method of the
// core's, yet recipe packages reach the value with [Of] and [Set], which
// users cannot import.
type Ref[T any] struct{ p *T }

func (r *Ref[T]) ref() *Ref[T] { return r }

// carrier is a public type that embeds a Ref.
type carrier[T any] interface{ ref() *Ref[T] }

// Of returns the core value w carries.
func Of[T any](w carrier[T]) *T { return w.ref().p }

// HoldOf returns the hold that x, a recipe's hold (which embeds
// recipes.Holding), carries; nil if x carries none.
func HoldOf(x any) *Hold {
	if c, ok := x.(carrier[Hold]); ok {
		return Of(c)
	}
	return nil
}

// Set makes w carry p.
func Set[T any](w carrier[T], p *T) { w.ref().p = p }

// ErrNoSession reports a recipe given a nil Session, or a zero one that
// neither recipes.Connect nor recipes.NewSession made.
var ErrNoSession = errors.New("zkrecipes: no session: make one with recipes.Connect or recipes.NewSession")

// Prepare checks what a recipe is made with, before any call to the
// server: the path (an error matching ErrInvalidPath), then the session,
// a *recipes.Session. It returns the core session.
func Prepare[P interface {
	*S
	carrier[Session]
}, S any](s P, path string) (*Session, error) {
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	if s == nil || Of[Session](s) == nil {
		return nil, ErrNoSession
	}
	return Of[Session](s), nil
}

// CtxErr returns ctx.Err() itself if err is (or wraps) it, as every
// acquire promises when its ctx ends first; else err.
func CtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); err != nil && cerr != nil && errors.Is(err, cerr) {
		return cerr
	}
	return err
}

// Closed is a closed channel: the Done of what never was (a Session
// never made, a nil Membership).
var Closed <-chan struct{} = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Apply applies each option of a recipe's constructor to t, in order,
// skipping nil ones: a nil option sets nothing, as for recipes.Option.
func Apply[T any, O ~func(*T)](t *T, opts []O) {
	for _, opt := range opts {
		if opt != nil {
			opt(t)
		}
	}
}
