package sim

import (
	"context"
	"runtime"
	"sync"
)

// Seeds runs cfg for seeds first, first+1, … first+n-1 on workers
// goroutines (GOMAXPROCS if 0), and calls done with each report in seed
// order as soon as it and those before it are finished. It returns the
// reports of the seeds that ran; a cancelled ctx stops new runs.
func Seeds(ctx context.Context, cfg Config, first uint64, n, workers int, done func(*Report)) []*Report {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	reports := make([]*Report, n)
	finished := make([]chan struct{}, n)
	for i := range finished {
		finished[i] = make(chan struct{})
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := cfg
				c.Seed = first + uint64(i)
				reports[i] = Run(c)
				close(finished[i])
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				for j := i; j < n; j++ {
					close(finished[j])
				}
				return
			}
		}
	}()
	var out []*Report
	for i := range n {
		<-finished[i]
		if reports[i] == nil {
			break
		}
		out = append(out, reports[i])
		if done != nil {
			done(reports[i])
		}
	}
	wg.Wait()
	return out
}
