package station

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/protocol"
)

// OfflineFormat names the offline bundle format (docs/PROTOCOL.md,
// "Offline path").
const OfflineFormat = "hotline-offline/v1"

// MaxOffline bounds the size of an offline bundle file.
const MaxOffline = 256 << 20

// OfflineBundle carries, by hand, what a live connection would: the
// sender's entries the receiver has not receipted, and the sender's
// receipts of the receiver's logs, as protocol frames. Every entry,
// checkpoint and receipt in it is signed.
type OfflineBundle struct {
	Format    string    `json:"format"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	CreatedAt time.Time `json:"created_at"`
	Frames    [][]byte  `json:"frames"` // base64 in JSON
}

// ImportView reports an import.
type ImportView struct {
	From    string `json:"from"`
	Frames  int    `json:"frames"`
	Entries int    `json:"entries"` // new entries taken; 0 when imported before
	Refused int    `json:"refused"`
}

// BundleExport builds the offline bundle for a peer.
func (s *Station) BundleExport(ctx context.Context, peer string) (*OfflineBundle, error) {
	var frames [][]byte
	var err error
	if err := s.inLoop(ctx, func() { frames, err = s.core.Export(peer) }); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, asBadRequest(err)
	}
	if frames == nil {
		frames = [][]byte{}
	}
	return &OfflineBundle{Format: OfflineFormat, From: s.Cfg.Name, To: peer, CreatedAt: time.Now().UTC(), Frames: frames}, nil
}

// ParseOffline reads an offline bundle strictly.
func ParseOffline(data []byte) (*OfflineBundle, error) {
	if len(data) > MaxOffline {
		return nil, badrequest.New("offline bundle has %d bytes, limit %d", len(data), MaxOffline)
	}
	var b OfflineBundle
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&b); err != nil {
		return nil, badrequest.New("offline bundle: %v", err)
	}
	if d.More() {
		return nil, badrequest.New("offline bundle: data after the JSON object")
	}
	switch {
	case b.Format != OfflineFormat:
		return nil, badrequest.New("offline bundle: format %q, want %q", b.Format, OfflineFormat)
	case b.From == "" || b.To == "":
		return nil, badrequest.New("offline bundle: from and to must be named")
	}
	for i, f := range b.Frames {
		if len(f) == 0 || len(f) > protocol.MaxFrame {
			return nil, badrequest.New("offline bundle: frame %d has %d bytes", i+1, len(f))
		}
	}
	return &b, nil
}

// BundleImport takes an offline bundle from a peer. It checks everything
// in it before it changes anything, and returns once what it brought is
// durable. Importing the same bundle again changes nothing.
func (s *Station) BundleImport(ctx context.Context, data []byte) (*ImportView, error) {
	b, err := ParseOffline(data)
	if err != nil {
		return nil, err
	}
	if b.To != s.Cfg.Name {
		return nil, s.refuseBundle(b, badrequest.New("offline bundle is for %s, not this station (%s)", b.To, s.Cfg.Name))
	}
	key, ok := s.peerKey(b.From)
	if !ok {
		return nil, s.refuseBundle(b, badrequest.New("offline bundle is from %s, which is not pinned", b.From))
	}
	pres := make([]*protocol.Prepared, len(b.Frames))
	for i, f := range b.Frames {
		keys, _ := s.identity()
		pres[i] = protocol.Prepare(f, key, keys)
		if eq := s.equivocation(ctx, b.From, pres[i]); eq != nil {
			return nil, s.refuseEquivocation(b.From, eq)
		}
	}
	res, err := s.call(ctx, func(id uint64) protocol.Event {
		return protocol.Import{ID: id, Peer: b.From, Frames: pres}
	})
	if err != nil {
		return nil, asBadRequest(fmt.Errorf("offline bundle from %s: %w", b.From, err))
	}
	if res.Imported.Entries > 0 {
		if _, err := s.detect(ctx); err != nil {
			return nil, err
		}
	}
	return &ImportView{From: b.From, Frames: len(b.Frames), Entries: res.Imported.Entries, Refused: res.Imported.Refused}, nil
}

// refuseBundle counts a bundle refused before its frames reach the core
// (which counts those it refuses itself as "bad bundle" too) and warns
// operators: someone carried a bundle to the wrong place.
func (s *Station) refuseBundle(b *OfflineBundle, err error) error {
	s.event(protocol.LinkRefused{Reason: "bad bundle", Level: "warning", Text: badrequest.Message(err)})
	return err
}
