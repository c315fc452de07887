package attack_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"hotline/internal/deposit"
	"hotline/internal/identity"
	"hotline/internal/relay"
)

// rawDeposit builds a deposit byte for byte as docs/PROTOCOL.md lays it
// out ("Relay", "Deposits"), from a plaintext given whole, padding
// included: what a relay (which holds every allowed station's card, so
// its HPKE key) or a sender gone bad can seal.
func rawDeposit(t *testing.T, pt []byte, from ed25519.PublicKey, to string, kem hpke.PublicKey) []byte {
	t.Helper()
	info := append(append([]byte("hotline relay deposit v1\x00"), from...), to...)
	enc, s, err := hpke.NewSender(kem, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), info)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.Seal([]byte("HLD1"), pt)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte("HLD1"), enc...), ct...)
}

// plaintext is a deposit's plaintext: the sender's and the recipient's
// names, the frame, and padding up to a deposit of size bytes.
func plaintext(from, to string, frame []byte, size int) []byte {
	pt := []byte{byte(len(from))}
	pt = append(pt, from...)
	pt = append(pt, byte(len(to)))
	pt = append(pt, to...)
	pt = append(pt, byte(len(frame)>>16), byte(len(frame)>>8), byte(len(frame)))
	pt = append(pt, frame...)
	return append(pt, make([]byte, size-deposit.Overhead-len(pt))...)
}

// tamperer is a relay's lie: once armed, it hands CHN, before the next
// mail from USA, that mail changed in every way a relay can change what
// it carries, and deposits of its own making; then the mail itself.
type tamperer struct {
	mu      sync.Mutex
	from    ed25519.PublicKey // USA's key: its mail is for CHN
	forge   func(m relay.Mail) []relay.Mail
	armed   bool
	handed  int // forged mail handed over
	carried int
}

func (x *tamperer) lie(m relay.Mail) []relay.Mail {
	x.mu.Lock()
	defer x.mu.Unlock()
	m.ID <<= 8 // room for forged mail below each real id
	if !x.armed || !m.From.Equal(x.from) {
		return []relay.Mail{m}
	}
	x.armed = false
	forged := x.forge(m)
	for i := range forged {
		forged[i].ID = m.ID + uint64(i)
	}
	x.handed += len(forged)
	m.ID += 255
	return append(forged, m)
}

// TestRelayTampersDeposits: the relay is the only path between USA and
// CHN, and hands CHN, beside USA's real mail, that mail with a bit
// flipped in each of its parts, cut short, extended, labelled as from
// another key, and deposits it sealed itself to CHN's card: naming
// another sender or another recipient, bound to another recipient, with
// padding that is not zeros, padded to a larger class, and of random
// bytes. CHN refuses each, counts each as "relay deposit", raises an
// alarm, and nothing changes; messages then go on arriving once, in
// order.
func TestRelayTampersDeposits(t *testing.T) {
	x := &tamperer{}
	rl := newRelayServer(t, x.lie)
	usa, chn := relayNode(t, "USA", rl), relayNode(t, "CHN", rl)
	pin(t, usa, chn)
	pin(t, chn, usa)
	usa.run(t)
	chn.run(t)
	agree(t, usa, chn, staff)
	first := send(t, usa, "before the relay tampers")
	waitFor(t, "the first message delivered", func() bool { return delivered(t, usa, first) })

	usaKey, chnKEM := usa.st.Keys.SignPublic(), chn.st.Keys.KEM.PublicKey()
	rng := rand.New(rand.NewPCG(3, 5))
	stranger, err := identity.NewKeys("RUS")
	if err != nil {
		t.Fatal(err)
	}
	probe := []byte{7, byte(len(staff))} // a frame's first bytes; the frame never gets as far as decoding
	probe = append(append(probe, staff...), make([]byte, 24)...)
	var names []string
	x.mu.Lock()
	x.from = usaKey
	x.forge = func(m relay.Mail) []relay.Mail {
		var out []relay.Mail
		add := func(name string, payload []byte, from ed25519.PublicKey) {
			names = append(names, name)
			out = append(out, relay.Mail{From: from, DepositedAt: m.DepositedAt, Payload: payload})
		}
		flip := func(at int) []byte {
			p := bytes.Clone(m.Payload)
			p[at] ^= 1 << rng.IntN(8)
			return p
		}
		n := len(m.Payload)
		add("magic flipped", flip(0), usaKey)
		add("encapsulation flipped", flip(4+rng.IntN(1120)), usaKey)
		add("ciphertext flipped", flip(4+1120+rng.IntN(n-1140)), usaKey)
		add("tag flipped", flip(n-1-rng.IntN(16)), usaKey)
		add("cut short", m.Payload[:n-1], usaKey)
		add("cut to half", m.Payload[:n/2], usaKey)
		add("extended", append(bytes.Clone(m.Payload), 0), usaKey)
		add("empty", nil, usaKey)
		add("labelled as from another key", m.Payload, stranger.SignPublic())
		add("labelled as from the recipient", m.Payload, chn.st.Keys.SignPublic())
		size := deposit.Classes[0]
		named, err := deposit.Seal(probe, deposit.Sender{Name: "RUS", Key: usaKey}, "CHN", chnKEM)
		if err != nil {
			t.Error(err)
		}
		add("names another sender", named, usaKey)
		add("names another recipient", rawDeposit(t, plaintext("USA", "RUS", probe, size), usaKey, "CHN", chnKEM), usaKey)
		add("bound to another recipient", rawDeposit(t, plaintext("USA", "CHN", probe, size), usaKey, "RUS", chnKEM), usaKey)
		bad := plaintext("USA", "CHN", probe, size)
		bad[len(bad)-1-rng.IntN(100)] = byte(1 + rng.IntN(255))
		add("padding not zeros", rawDeposit(t, bad, usaKey, "CHN", chnKEM), usaKey)
		add("padded to a larger class", rawDeposit(t, plaintext("USA", "CHN", probe, deposit.Classes[1]), usaKey, "CHN", chnKEM), usaKey)
		junk := make([]byte, size)
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		add("random bytes of a class", junk, usaKey)
		return out
	}
	x.mu.Unlock()

	before := map[*node]state{usa: settled(t, usa), chn: settled(t, chn)}
	refusedBefore := refused(t, chn)["relay deposit"]
	x.mu.Lock()
	x.armed = true
	x.mu.Unlock()
	var forged int
	waitFor(t, "the relay to hand over what it forged", func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		forged = x.handed
		return forged > 0
	})
	waitFor(t, "CHN to refuse every forged mail", func() bool { return refused(t, chn)["relay deposit"]-refusedBefore >= forged })
	if got := refused(t, chn)["relay deposit"] - refusedBefore; got != forged {
		t.Errorf("CHN refused %d deposits; the relay forged %d: %v", got, forged, names)
	}
	for n, b := range before {
		unchanged(t, n, b)
	}
	// The count moves at once; the alarm is stored with the next write.
	waitFor(t, "an alarm to tell CHN's operators what the relay did", func() bool {
		return len(alerts(t, chn, "alarm", "relay deposit")) > 0
	})
	t.Logf("the relay forged %d mails (%v); CHN refused %v", forged, names, refused(t, chn))

	// The real mail got through, and the channel goes on.
	var ids []string
	for i := range 5 {
		ids = append(ids, send(t, usa, fmt.Sprintf("after the relay tampered %d", i)))
	}
	waitFor(t, "every message after delivered", func() bool { return delivered(t, usa, ids[len(ids)-1]) })
	in, err := chn.st.Inbox(t.Context(), staff)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range in {
		got = append(got, m.ID)
	}
	if want := append([]string{first}, ids...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CHN holds %v, want %v", got, want)
	}
}
