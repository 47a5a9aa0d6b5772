package recipes_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// TestRecipesRefuseAMissingSession: a nil Session, or a zero one that
// Connect did not make, is an error from every constructor and from
// Contenders, never a panic later; a bad path is reported first.
func TestRecipesRefuseAMissingSession(t *testing.T) {
	makers := map[string]func(*recipes.Session, string) error{
		"lock":    func(s *recipes.Session, p string) error { _, err := lock.New(s, p); return err },
		"rwlock":  func(s *recipes.Session, p string) error { _, err := rwlock.New(s, p); return err },
		"leader":  func(s *recipes.Session, p string) error { _, err := leader.New(s, p); return err },
		"barrier": func(s *recipes.Session, p string) error { _, err := barrier.New(s, p); return err },
		"double": func(s *recipes.Session, p string) error {
			_, err := barrier.NewDouble(s, p, 2)
			return err
		},
		"Contenders": func(s *recipes.Session, p string) error {
			_, err := recipes.Contenders(context.Background(), s, p)
			return err
		},
	}
	for name, make := range makers {
		for _, s := range []*recipes.Session{nil, {}} {
			assert.ErrorContains(t, make(s, "/ok"), "no session", "%s(%v)", name, s)
			assert.ErrorIs(t, make(s, "bad"), recipes.ErrInvalidPath, "%s(%v)", name, s)
		}
	}
}
