package station

import (
	"context"
	"fmt"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/desk"
	"hotline/internal/ops"
	"hotline/internal/protocol"
)

// BundleExport builds the offline bundle for a peer.
func (s *Station) BundleExport(ctx context.Context, peer string) (*ops.OfflineBundle, error) {
	var frames [][]byte
	var err error
	if err := s.inLoop(ctx, func() { frames, err = s.core.Export(peer) }); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, desk.AsBadRequest(err)
	}
	if frames == nil {
		frames = [][]byte{}
	}
	return &ops.OfflineBundle{Format: ops.OfflineFormat, From: s.Cfg.Name, To: peer, CreatedAt: time.Now().UTC(), Frames: frames}, nil
}

// BundleImport takes an offline bundle from a peer. It checks everything
// in it before it changes anything, and returns once what it brought is
// durable. Importing the same bundle again changes nothing.
func (s *Station) BundleImport(ctx context.Context, data []byte) (*ops.ImportView, error) {
	b, err := ops.ParseOffline(data)
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
	// A bundle brings the peer's entries: under the disk reserve they
	// wait, as they would over a link. The operator imports it again once
	// there is room.
	if why, full := s.peerRoom(false); full {
		s.event(protocol.LinkRefused{Peer: b.From, Reason: "disk full", Text: fmt.Sprintf("offline bundle from %s not taken: %s", b.From, why)})
		return nil, fmt.Errorf("%w: offline bundle from %s not taken: %s; import the bundle again once there is room", ops.ErrDiskFull, b.From, why)
	}
	pres := make([]*protocol.Prepared, len(b.Frames))
	for i, f := range b.Frames {
		keys, _ := s.Identity()
		pres[i] = protocol.Prepare(f, key, keys)
		if eq := s.equivocation(ctx, b.From, pres[i]); eq != nil {
			return nil, s.refuseEquivocation(b.From, eq)
		}
	}
	res, err := s.Call(ctx, func(id uint64) protocol.Event {
		return protocol.Import{ID: id, Peer: b.From, Frames: pres}
	})
	if err != nil {
		return nil, desk.AsBadRequest(fmt.Errorf("offline bundle from %s: %w", b.From, err))
	}
	if res.Imported.Entries > 0 {
		if _, err := s.Detect(ctx); err != nil {
			return nil, err
		}
	}
	return &ops.ImportView{From: b.From, Frames: len(b.Frames), Entries: res.Imported.Entries, Refused: res.Imported.Refused}, nil
}

// refuseBundle counts a bundle refused before its frames reach the core
// (which counts those it refuses itself as "bad bundle" too) and warns
// operators: someone carried a bundle to the wrong place.
func (s *Station) refuseBundle(b *ops.OfflineBundle, err error) error {
	s.event(protocol.LinkRefused{Reason: "bad bundle", Level: "warning", Text: badrequest.Message(err)})
	return err
}
