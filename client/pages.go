package client

import (
	"fmt"
	"iter"
)

// pages yields the items of one page after another, following next-page tokens
// from start until a page has none. The first error ends the sequence.
func pages[T any](start string, fetch func(token string) (items []T, next string, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for token := start; ; {
			items, next, err := fetch(token)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if next == token {
				// A server that hands back the token it was given would loop forever.
				yield(zero, fmt.Errorf("the server answered page token %q with the same token", token))
				return
			}
			token = next
		}
	}
}
