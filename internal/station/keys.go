package station

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/desk"
	"hotline/internal/home"
	"hotline/internal/identity"
	"hotline/internal/link"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
	"hotline/internal/store"
)

// Keys on disk (docs/OPERATIONS.md, "Key rotation"):
//
//	keys/signing.key, keys/kem.key   the current keys
//	keys/next/                       new keys while a rotation is being made durable
//	keys/retired/<seq>/              each earlier key, by its place in the chain (0 first)
//
// A rotation writes keys/next, makes the change durable in the store (the
// core's key entries and the key chain, one write), then moves the current
// keys to keys/retired/<seq> and keys/next into place, and writes the new
// card. Open finishes a rotation a crash interrupted after the store
// write, and discards keys/next if the store never took it.

var errRotating = errors.New("a key change is already in progress")

// RotateKeys makes new keys and a new card (same party, endpoints and
// relays) and changes the station to them: a key entry signed by the
// current key on every channel, then everything signed with the new.
func (s *Station) RotateKeys(ctx context.Context, r ops.KeyRequest) (*ops.RotationView, error) {
	if r.Reason != identity.ReasonRotate && r.Reason != identity.ReasonRevoke && r.Reason != identity.ReasonLost {
		return nil, badrequest.New("reason %q is not %s, %s or %s", r.Reason, identity.ReasonRotate, identity.ReasonRevoke, identity.ReasonLost)
	}
	if r.By == "" || len(r.By) > 128 {
		return nil, badrequest.New("say who orders the key change (--as, 1 to 128 bytes)")
	}
	if len(r.Note) > 1024 {
		return nil, badrequest.New("the note is %d bytes; at most 1024", len(r.Note))
	}
	if !s.rotMu.TryLock() {
		return nil, badrequest.New("%v", errRotating)
	}
	defer s.rotMu.Unlock()
	keys, card := s.Identity()
	now := time.Now()
	if !now.Truncate(time.Second).After(card.Issued) {
		now = card.Issued.Add(time.Second)
	}
	nk, err := identity.NewKeys(keys.Name)
	if err != nil {
		return nil, err
	}
	ncard, err := identity.NewCardRelays(nk, card.Party, card.Endpoints, card.Relays, now)
	if err != nil {
		return nil, err
	}
	var stmt *identity.Rotation
	if r.Reason == identity.ReasonLost {
		stmt, err = identity.NewLostStatement(keys.SignPublic(), nk, ncard, now)
	} else {
		stmt, err = identity.NewRotation(keys, ncard, r.Reason, now)
	}
	if err != nil {
		return nil, err
	}
	kdir := filepath.Join(s.Dir, "keys")
	next := filepath.Join(kdir, "next")
	if err := os.RemoveAll(next); err != nil {
		return nil, err
	}
	if err := home.SaveKeys(next, nk); err != nil {
		return nil, err
	}
	// The other machines of a station on a shared store find the new
	// keys there, should this one stop before the change is finished.
	if err := sealKeys(ctx, s.Dir, keys.Name, s.Store, s.Log); err != nil {
		os.RemoveAll(next)
		return nil, err
	}
	by := r.By
	if r.Note != "" {
		by += ": " + r.Note
	}
	// A peer may seal relay deposits to the new key as soon as it takes
	// the key entry, which can be before the keys are swapped on disk.
	s.setNextKeys(nk)
	if _, err := s.Call(ctx, func(id uint64) protocol.Event {
		return protocol.Rotate{ID: id, Keys: nk, Statement: stmt, OldCard: card, By: by}
	}); err != nil {
		s.setNextKeys(nil)
		os.RemoveAll(next)
		s.audit(ctx, r.By, "key."+r.Reason, keys.Name, "failed", err.Error())
		return nil, desk.AsBadRequest(err)
	}
	s.audit(ctx, r.By, "key."+r.Reason, keys.Name, "ok", fmt.Sprintf("fingerprint %s replaces %s; %s", ncard.Fingerprint(), card.Fingerprint(), r.Note))
	var chain []protocol.KeyInfo
	var channels int
	s.inLoop(context.Background(), func() {
		chain = s.core.Keys(keys.Name)
		for _, c := range s.core.Channels() {
			if c.Written > 0 {
				channels++
			}
		}
	})
	if err := stationdir.SwapKeys(s.Dir, len(chain)-2, ncard); err != nil {
		// The store has the change; the station cannot go on with the old
		// keys. Open finishes the swap.
		s.fail(fmt.Errorf("keys changed in the store but not on disk (%v); restart the station to finish", err))
		return nil, err
	}
	if err := s.setIdentity(ctx, nk, ncard); err != nil {
		return nil, err
	}
	if err := sealKeys(ctx, s.Dir, keys.Name, s.Store, s.Log); err != nil {
		// The store has the change and the keys sealed with keys/next:
		// a standby that takes over finishes it from them.
		s.Log.Error("keys changed, but not sealed again in the store", "err", err)
	}
	// Relays follow the statements in the new certificate as soon as the
	// station connects with it: now, rather than at its next reconnection.
	for _, t := range s.transports {
		if r, ok := t.(*relays); ok {
			r.keysChanged()
		}
	}
	s.Log.Warn("keys changed", "reason", r.Reason, "fingerprint", ncard.Fingerprint(), "old", card.Fingerprint())
	view := &ops.RotationView{Station: keys.Name, Reason: r.Reason, OldFingerprint: card.Fingerprint(), Fingerprint: ncard.Fingerprint(), Channels: channels}
	view.Keys, err = s.KeyHistory(ctx, keys.Name)
	return view, err
}

// ReplacePeer re-pins a peer that lost its key, under its new card, after
// checking the fingerprint a person read aloud, as at first contact
// (docs/PROTOCOL.md, "Lost keys").
func (s *Station) ReplacePeer(ctx context.Context, text []byte, fingerprint, by string) (*ops.PeerView, error) {
	card, err := identity.ParseCard(text)
	if err != nil {
		return nil, badrequest.New("%v", err)
	}
	if !identity.SameFingerprint(card.Fingerprint(), fingerprint) {
		s.audit(ctx, by, "peer.replace", card.Name, "refused", "fingerprint mismatch")
		return nil, badrequest.New("%v: the card of %s does not have the fingerprint given; do not pin it, and read the fingerprint again with its owner", identity.ErrFingerprint, card.Name)
	}
	if by == "" || len(by) > 128 {
		return nil, badrequest.New("say who re-pins the peer (--as, 1 to 128 bytes)")
	}
	if _, err := s.Call(ctx, func(id uint64) protocol.Event { return protocol.ReplacePeer{ID: id, Card: card, By: by} }); err != nil {
		s.audit(ctx, by, "peer.replace", card.Name, "refused", err.Error())
		return nil, desk.AsBadRequest(err)
	}
	s.audit(ctx, by, "peer.replace", card.Name, "ok", "fingerprint "+card.Fingerprint())
	ks, err := s.KeyHistory(ctx, card.Name)
	if err != nil {
		return nil, err
	}
	return &ops.PeerView{Name: card.Name, Party: card.Party, Fingerprint: card.Fingerprint(), Endpoints: card.Endpoints, AddedAt: time.Now().UTC(), Keys: ks}, nil
}

// audit records a key action in the operators' audit trail. A trail that
// cannot be written is logged: the key change itself is already durable.
func (s *Station) audit(ctx context.Context, who, action, target, outcome, detail string) {
	if _, err := s.Store.AppendAudit(ctx, store.AuditRecord{At: time.Now().UTC(), Operator: who, Action: action, Target: target,
		Outcome: outcome, Detail: detail, Addr: "local"}); err != nil {
		s.Log.Error("writing the audit trail", "action", action, "err", err)
	}
}

// Identity returns the station's current keys and card.
func (s *Station) Identity() (*identity.Keys, *identity.Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Keys, s.OwnCard
}

// setIdentity switches the station to new keys and card: new connections
// present the new certificate, which carries the rotation statements. The
// keys it replaces join the retired ones, which still open relay deposits
// sealed to them.
func (s *Station) setIdentity(ctx context.Context, k *identity.Keys, c *identity.Card) error {
	cert, err := s.makeCert(ctx, k)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.Keys.SignPublic().Equal(k.SignPublic()) {
		s.retired = append([]*identity.Keys{s.Keys}, s.retired...)
	}
	s.Keys, s.OwnCard, s.cert, s.nextKeys = k, c, cert, nil
	s.mu.Unlock()
	return nil
}

// makeCert makes the TLS certificate for k, carrying this station's
// rotation statements, so that a peer that has an earlier key pinned can
// follow them.
func (s *Station) makeCert(ctx context.Context, k *identity.Keys) (tls.Certificate, error) {
	rows, err := s.Store.Keys(ctx, k.Name)
	if err != nil {
		return tls.Certificate{}, err
	}
	var stmts [][]byte
	for _, r := range rows {
		if len(r.Statement) > 0 {
			stmts = append(stmts, r.Statement)
		}
	}
	return link.CertificateWith(k.Name, k.Sign, stmts)
}

func (s *Station) currentCert() tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert
}

// KeyHistory lists a station's key chain (this station's or a peer's),
// oldest first.
func (s *Station) KeyHistory(ctx context.Context, station string) ([]ops.KeyView, error) {
	var info []protocol.KeyInfo
	if err := s.inLoop(ctx, func() { info = s.core.Keys(station) }); err != nil {
		return nil, err
	}
	if info == nil {
		return nil, badrequest.New("%v: %q", protocol.ErrUnknownPeer, station)
	}
	rows, err := s.Store.Keys(ctx, station)
	if err != nil {
		return nil, err
	}
	out := make([]ops.KeyView, len(info))
	for i, k := range info {
		out[i] = ops.KeyView{Seq: k.Seq, Fingerprint: k.Fingerprint, Reason: k.Reason, At: k.At, Revoked: k.Revoked, Current: k.Current}
		if i < len(rows) {
			out[i].At, out[i].Detail, out[i].Fingerprint = rows[i].At, rows[i].Detail, rows[i].Fingerprint
		}
	}
	if len(out) > 0 && out[0].Fingerprint == "" {
		_, card := s.Identity()
		out[0].Fingerprint = card.Fingerprint()
	}
	return out, nil
}

// refreshPins reads the pinned peers' keys from the core after one of
// them changed its keys. It runs on the loop.
func (s *Station) refreshPins() {
	pins := map[string]string{}
	chains := map[string]string{}
	hosts := map[string]string{}
	seal := map[string]sealKey{}
	for _, n := range s.core.PeerNames() {
		if c := s.core.Peer(n); c != nil {
			pins[string(c.SignKey)] = n
			seal[n] = newSealKey(c)
			for _, k := range s.core.ChainKeys(n) {
				chains[string(k)] = n
			}
			for _, e := range c.Endpoints {
				if h, _, err := net.SplitHostPort(e); err == nil {
					hosts[h] = n
				}
			}
		}
	}
	s.mu.Lock()
	s.pins, s.chainKeys, s.peerHosts, s.sealTo = pins, chains, hosts, seal
	s.mu.Unlock()
}

// mailFrom names the peer whose key a relay labels mail with: any key of
// its chain not revoked. The label is never trusted (a relay is not):
// what the mail holds is checked by its own signatures.
func (s *Station) mailFrom(k ed25519.PublicKey) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.chainKeys[string(k)]
	return n, ok
}

// peerAt names the pinned peer whose card lists host among its
// endpoints' addresses (as written in the card: a name is not resolved).
func (s *Station) peerAt(host string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.peerHosts[host]
	return n, ok
}

// peerLookup names the peer a connecting key belongs to: a pinned key, or
// one the certificate's rotation statements lead to from a pinned key
// (the peer rotated, and this station has not yet taken its key entry).
func (s *Station) peerLookup(k ed25519.PublicKey, stmts [][]byte) (string, bool) {
	if name, ok := s.peerName(k); ok {
		return name, true
	}
	if len(stmts) == 0 {
		return "", false
	}
	s.mu.Lock()
	pins := make(map[string]string, len(s.pins))
	for pk, n := range s.pins {
		pins[pk] = n
	}
	s.mu.Unlock()
	for pk, n := range pins {
		if got, path := identity.Follow(n, ed25519.PublicKey(pk), stmts, nil); len(path) > 0 && got.Equal(k) {
			return n, true
		}
	}
	return "", false
}

// acceptPeer is the dialer's check of the key a peer's endpoint presents.
func (s *Station) acceptPeer(peer string) func(ed25519.PublicKey, [][]byte) error {
	return func(k ed25519.PublicKey, stmts [][]byte) error {
		if name, ok := s.peerLookup(k, stmts); ok && name == peer {
			return nil
		}
		pinned, _ := s.peerKey(peer)
		return fmt.Errorf("presented key %x, pinned key is %x, and no rotation statement it carries leads from one to the other", []byte(k), []byte(pinned))
	}
}
