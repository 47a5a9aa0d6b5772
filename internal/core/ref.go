package core

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

// Set makes w carry p.
func Set[T any](w carrier[T], p *T) { w.ref().p = p }
