package station

// The relays as the call media sees them (docs/CALLS.md, "Paths"): each
// relay connection that agreed relay protocol 2 is asked for a media
// token, and the media engine (internal/media, paths.go) reaches a peer
// through the relays of its card that granted one, and registers at this
// station's own.

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"net/netip"
	"time"

	"hotline/internal/identity"
	"hotline/internal/media"
	"hotline/internal/relay"
)

// mediaGrant asks a newly connected relay for a media token and keeps it
// while the connection lasts. A relay that carries no media is noted once.
func (r *relays) mediaGrant(ctx context.Context, key string, ref identity.RelayRef, c *relay.Client) {
	gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	token, port, err := c.MediaGrant(gctx)
	cancel()
	if err != nil {
		if errors.Is(err, relay.ErrNoMedia) {
			r.s.Log.Info("relay carries no call media", "relay", ref.Name, "err", err)
		} else if ctx.Err() == nil {
			r.s.Log.Warn("relay media token", "relay", ref.Name, "err", err)
		}
		return
	}
	host, _, err := net.SplitHostPort(ref.Addr)
	if err != nil {
		return
	}
	ua, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		r.s.Log.Warn("relay media address", "relay", ref.Name, "err", err)
		return
	}
	ap := ua.AddrPort()
	route := media.Route{Relay: ref.Name, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), port), Token: token}
	r.mu.Lock()
	if r.clients[key] == c {
		r.grants[key] = route
	}
	r.mu.Unlock()
}

// mediaRelays is the media engine's view of the relays.
type mediaRelays struct{ r *relays }

func (m mediaRelays) To(peer string) (ed25519.PublicKey, []media.Route) {
	r := m.r
	r.mu.Lock()
	defer r.mu.Unlock()
	card := r.cards[peer]
	if card == nil {
		return nil, nil
	}
	var out []media.Route
	for _, ref := range card.Relays {
		if g, ok := r.grants[string(ref.Key)]; ok {
			out = append(out, g)
		}
	}
	return card.SignKey, out
}

func (m mediaRelays) Own() []media.Route {
	r := m.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []media.Route
	for key := range r.own {
		if g, ok := r.grants[key]; ok {
			out = append(out, g)
		}
	}
	return out
}

func (m mediaRelays) Peer(key ed25519.PublicKey) (string, bool) {
	r := m.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, c := range r.cards {
		if c.SignKey.Equal(key) {
			return name, true
		}
	}
	return "", false
}

// relaysOf returns the station's relay transport.
func (s *Station) relaysOf() *relays {
	for _, t := range s.transports {
		if r, ok := t.(*relays); ok {
			return r
		}
	}
	return nil
}
