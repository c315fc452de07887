package api_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"hotline/internal/ops"
)

// benchmarkSend sends b.N 256-byte messages with 256 in flight through the
// API of a station in this process, each until durable at the sender (not
// to the peer's receipt: hotline bench measures that), one request each
// or on one send stream.
func benchmarkSend(b *testing.B, stream bool) {
	usa, chn := startPair(b)
	agree(b, usa, chn, staff)
	ctx := context.Background()
	send := func(r ops.SendRequest) error { _, err := usa.c.Send(ctx, r); return err }
	if stream {
		s, err := usa.c.SendStream(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close(ctx)
		send = func(r ops.SendRequest) error { _, err := s.Send(r).Wait(ctx); return err }
	}
	req := ops.SendRequest{Channel: staff, Precedence: "ROUTINE", Text: strings.Repeat("x", 256)}
	work := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	for range 256 {
		wg.Go(func() {
			for range work {
				if err := send(req); err != nil {
					once.Do(func() { failed = err })
				}
			}
		})
	}
	b.ResetTimer()
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
}

func BenchmarkSendRequests(b *testing.B) { benchmarkSend(b, false) }
func BenchmarkSendStream(b *testing.B)   { benchmarkSend(b, true) }
