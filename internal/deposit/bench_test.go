package deposit

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"hotline/internal/identity"
)

// cpuTime is the CPU time this process has used, user and system. On a
// machine shared with other work, CPU time per operation is what the
// operation costs; the time per operation also counts the waits for a
// CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs op as the benchmark's loop and reports its CPU time per
// operation beside the time.
func loop(b *testing.B, op func()) {
	c0, n := cpuTime(), 0
	for b.Loop() {
		op()
		n++
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(n), "cpu-µs/op")
}

// className names a class in benchmark output.
func className(c int) string {
	if c >= 1<<20 && c%(1<<20) == 0 {
		return fmt.Sprintf("%dMiB", c>>20)
	}
	if c%(1<<10) == 0 {
		return fmt.Sprintf("%dKiB", c>>10)
	}
	return fmt.Sprintf("%dB", c)
}

// BenchmarkSeal is a sender's cost of one deposit of each class, holding
// the largest frame the class holds: an HPKE encapsulation (ML-KEM-768
// + X25519), ChaCha20-Poly1305 over the padded plaintext, and the copies.
func BenchmarkSeal(b *testing.B) {
	usa, chn := newKeys(b, "USA"), newKeys(b, "CHN")
	for _, c := range Classes {
		frame := frameOf(c - Overhead - fixed("USA", "CHN"))
		b.Run(className(c), func(b *testing.B) {
			b.SetBytes(int64(c))
			loop(b, func() {
				if _, err := Seal(frame, sender(usa), "CHN", chn.KEM.PublicKey()); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkOpen is the recipient's cost of one deposit of each class: the
// decapsulation, ChaCha20-Poly1305, and the check of names and padding.
func BenchmarkOpen(b *testing.B) {
	usa, chn := newKeys(b, "USA"), newKeys(b, "CHN")
	self := []*identity.Keys{chn}
	for _, c := range Classes {
		d := seal(b, frameOf(c-Overhead-fixed("USA", "CHN")), usa, chn)
		b.Run(className(c), func(b *testing.B) {
			b.SetBytes(int64(c))
			loop(b, func() {
				if _, err := Open(d, usa.SignPublic(), self); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkOpenRetired is Open of a small deposit sealed to the key the
// recipient held before its last key change: the current key is tried
// first, in vain.
func BenchmarkOpenRetired(b *testing.B) {
	usa, old, cur := newKeys(b, "USA"), newKeys(b, "CHN"), newKeys(b, "CHN")
	self := []*identity.Keys{cur, old}
	d := seal(b, frameOf(100), usa, old)
	loop(b, func() {
		if o, err := Open(d, usa.SignPublic(), self); err != nil || o.Key != 1 {
			b.Fatal(err)
		}
	})
}
