package demo

import (
	"context"
	"errors"
	"io"
)

// BenchOptions configure hotline bench.
type BenchOptions struct {
	Messages        int
	LatencyMessages int
	Size            int
	JSON            bool
	Out             io.Writer
}

// Bench measures two stations on loopback.
func Bench(ctx context.Context, o BenchOptions) error {
	return errors.New("bench: not built yet")
}
