// Package linkemu emulates a network link at the packet level: IP packets
// read from one port (a TUN device in a network namespace) are written to
// the other after the delay, jitter, loss (independent or in bursts,
// Gilbert–Elliott), rate limit with a bounded queue, and outages of a
// Profile. Real TCP, TLS and QUIC between two namespaces joined by a Link
// meet real loss and real queues. The kernel's netem does the same; this
// package exists because the kernels Hotline is tested on do not all have
// it, and because a test can change a Profile mid-run and read the
// link's counters.
package linkemu

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Profile is what a link does to packets, the same both ways.
type Profile struct {
	Name string `json:"profile"`
	// RTT is the round trip added: each direction delays by half.
	RTT time.Duration `json:"-"`
	// Jitter varies each packet's one-way delay uniformly within
	// ±Jitter. Packets keep their order (as on a serial link or a
	// satellite channel): one that would overtake the packet before it
	// waits for it.
	Jitter time.Duration `json:"-"`
	// Loss is the share of packets lost, 0..1.
	Loss float64 `json:"loss"`
	// Burst is the mean length of a run of lost packets: 1 (or 0) for
	// independent losses, more for a Gilbert–Elliott channel whose bad
	// state loses every packet and lasts Burst packets on average.
	Burst float64 `json:"loss_burst"`
	// Rate is the link's capacity in bits per second, 0 for none.
	Rate int64 `json:"rate_bps"`
	// Queue is the bytes the link holds waiting to be sent at Rate;
	// a packet that would overflow it is dropped (tail drop).
	Queue int `json:"queue_bytes"`
	// MTU is the largest IP packet the link carries, set on the TUN
	// devices (so that TCP segments fit it).
	MTU int `json:"mtu"`
}

// RTTms, JitterMs: the profile's times in milliseconds, for JSON.
func (p Profile) RTTms() float64    { return ms(p.RTT) }
func (p Profile) JitterMs() float64 { return ms(p.Jitter) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Serialise is the time n bytes take at the profile's rate (0 with none).
func (p Profile) Serialise(n int) time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(n) * 8 / float64(p.Rate) * float64(time.Second))
}

// Validate says what is wrong with a profile made by hand.
func (p Profile) Validate() error {
	switch {
	case p.RTT < 0 || p.Jitter < 0:
		return fmt.Errorf("link profile %s: rtt and jitter must not be negative", p.Name)
	case p.Jitter > p.RTT/2:
		return fmt.Errorf("link profile %s: jitter %v exceeds the one-way delay %v", p.Name, p.Jitter, p.RTT/2)
	case p.Loss < 0 || p.Loss >= 1:
		return fmt.Errorf("link profile %s: loss must be in [0, 1), got %g", p.Name, p.Loss)
	case p.Burst < 0:
		return fmt.Errorf("link profile %s: loss burst must not be negative", p.Name)
	case p.Rate < 0:
		return fmt.Errorf("link profile %s: rate must not be negative", p.Name)
	case p.Rate > 0 && p.Queue < p.MTU:
		return fmt.Errorf("link profile %s: a queue of %d bytes cannot hold one %d-byte packet", p.Name, p.Queue, p.MTU)
	case p.MTU < 576 || p.MTU > 65535:
		return fmt.Errorf("link profile %s: MTU must be 576..65535, got %d", p.Name, p.MTU)
	}
	return nil
}

// The profiles by name (docs/BENCHMARKS.md, "Real links"; OPERATIONS.md
// gives the advice for each). Queues hold about a second of a satellite
// terminal's rate (and a fast link's), and four of a radio modem's 576-byte
// packets (3.4 s); narrowband's MTU is 576 bytes, as IP over HF radio uses,
// so that one packet takes half a second, not 1.25 s, of the link.
var profiles = []Profile{
	{Name: "lan", MTU: 1500},
	{Name: "transpacific", RTT: 160 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.001, Burst: 1,
		Rate: 50_000_000, Queue: 1 << 20, MTU: 1500},
	{Name: "satcom", RTT: 600 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.01, Burst: 4,
		Rate: 256_000, Queue: 32 << 10, MTU: 1500},
	{Name: "narrowband", RTT: 400 * time.Millisecond, Loss: 0.05, Burst: 1,
		Rate: 9_600, Queue: 4 << 10, MTU: 576},
}

// Named returns the profile called name.
func Named(name string) (Profile, error) {
	for _, p := range profiles {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("unknown link profile %q: the profiles are %s", name, strings.Join(Names(), ", "))
}

// Names lists the profiles, in order of how hard they are.
func Names() []string {
	var out []string
	for _, p := range profiles {
		out = append(out, p.Name)
	}
	return out
}

// Profiles returns every profile.
func Profiles() []Profile { return slices.Clone(profiles) }
