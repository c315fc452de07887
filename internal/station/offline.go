package station

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/desk"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/wire"
)

// BundleExport builds the offline bundle for a peer.
func (s *Station) BundleExport(ctx context.Context, peer string) (*ops.OfflineBundle, error) {
	var frames [][]byte
	var err error
	if err := s.inLoop(ctx, func() { frames, err = s.core.Export(peer, time.Now()) }); err != nil {
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

// A bundle goes to the core in parts: frames are added to a part until
// it holds importPartBytes or importPartFrames, so that a part holds at
// most 1 MiB and one frame.
const (
	importPartBytes  = 1 << 20
	importPartFrames = 256
)

// BundleImport takes an offline bundle from a peer, read from r as a
// stream. It checks everything in it before it changes anything, and
// returns once what it brought is durable. Importing the same bundle
// again changes nothing.
//
// It reads r once (ops.ReadOffline), writing the frames to a spool file
// in the station directory, which is gone when it returns. It then reads
// the spool twice: to check every frame, part by part, and once all
// check, to take them, part by part. Its memory is bounded by a part and
// what the core holds, not by the size of the bundle or its number of
// frames.
func (s *Station) BundleImport(ctx context.Context, r io.Reader) (*ops.ImportView, error) {
	if err := s.room(); err != nil {
		return nil, err
	}
	// A bundle brings a peer's entries: under the disk reserve they wait,
	// as they would over a link, and the spool is not even written. The
	// operator imports it again once there is room.
	if why, full := s.peerRoom(false); full {
		s.event(protocol.LinkRefused{Reason: "disk full", Text: "offline bundle not taken: " + why})
		return nil, fmt.Errorf("%w: offline bundle not taken: %s; import the bundle again once there is room", ops.ErrDiskFull, why)
	}
	sp, err := newSpool(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("offline bundle: %w", err)
	}
	defer sp.close()
	b, n, err := ops.ReadOffline(r, sp.add)
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
	coreErr := func(err error) error {
		return desk.AsBadRequest(fmt.Errorf("offline bundle from %s: %w", b.From, err))
	}
	ck := protocol.NewImportCheck(b.From)
	if err := s.bundleParts(ctx, sp, b.From, key, func(part []*protocol.Prepared) error {
		if _, err := s.Call(ctx, func(id uint64) protocol.Event {
			return protocol.CheckImport{ID: id, Check: ck, Frames: part}
		}); err != nil {
			return coreErr(err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	v := &ops.ImportView{From: b.From, Frames: n}
	taken := 0
	if err := s.bundleParts(ctx, sp, b.From, key, func(part []*protocol.Prepared) error {
		res, err := s.Call(ctx, func(id uint64) protocol.Event {
			return protocol.Import{ID: id, Peer: b.From, Frames: part, Checked: true}
		})
		if err != nil {
			if taken > 0 {
				err = fmt.Errorf("%d of its %d frames taken, then: %w", taken, n, err)
			}
			return coreErr(err)
		}
		taken += len(part)
		v.Entries += res.Imported.Entries
		v.Refused += res.Imported.Refused
		return nil
	}); err != nil {
		return nil, err
	}
	if v.Entries > 0 {
		if _, err := s.Detect(ctx); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// bundleParts reads the spooled frames of a bundle from peer, whose key
// is key, and hands them to do in parts, in order. It prepares each frame
// beside the loop, as for a connection (protocol.Prepare), and compares
// an entries frame with what the store holds (equivocation).
func (s *Station) bundleParts(ctx context.Context, sp *spool, peer string, key ed25519.PublicKey, do func([]*protocol.Prepared) error) error {
	keys, _ := s.Identity()
	var part []*protocol.Prepared
	size := 0
	err := sp.frames(func(f []byte) error {
		pre := protocol.Prepare(f, key, keys)
		if eq := s.equivocation(ctx, peer, pre); eq != nil {
			return s.refuseEquivocation(peer, eq)
		}
		part = append(part, pre)
		if size += len(f); size < importPartBytes && len(part) < importPartFrames {
			return nil
		}
		err := do(part)
		part, size = nil, 0
		return err
	})
	if err == nil && len(part) > 0 {
		err = do(part)
	}
	return err
}

// refuseBundle counts a bundle refused before its frames reach the core
// (which counts those it refuses itself as "bad bundle" too) and warns
// operators: someone carried a bundle to the wrong place.
func (s *Station) refuseBundle(b *ops.OfflineBundle, err error) error {
	s.event(protocol.LinkRefused{Reason: "bad bundle", Level: "warning", Text: badrequest.Message(err)})
	return err
}

// spool holds the frames of a bundle being imported in a file, each as a
// 4-byte big-endian length and its bytes.
type spool struct {
	f       *os.File
	w       *bufio.Writer
	removed bool // from the directory, while open
}

// newSpool makes a spool in dir. Its file is removed from dir at once
// where the system allows it: it lives while it is open, and a station
// that stops meanwhile leaves nothing behind.
func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, ".bundle-*")
	if err != nil {
		return nil, err
	}
	removed := os.Remove(f.Name()) == nil
	return &spool{f: f, w: bufio.NewWriterSize(f, 64<<10), removed: removed}, nil
}

// add appends a frame.
func (sp *spool) add(frame []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(frame)))
	if _, err := sp.w.Write(n[:]); err != nil {
		return fmt.Errorf("offline bundle: spooling: %w", err)
	}
	if _, err := sp.w.Write(frame); err != nil {
		return fmt.Errorf("offline bundle: spooling: %w", err)
	}
	return nil
}

// frames gives each spooled frame to each, in order, one at a time.
func (sp *spool) frames(each func([]byte) error) error {
	if err := sp.w.Flush(); err != nil {
		return fmt.Errorf("offline bundle: spooling: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(sp.f, 64<<10)
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("offline bundle: reading the spool: %w", err)
		}
		size := binary.BigEndian.Uint32(n[:])
		if size > wire.MaxFrame {
			return fmt.Errorf("offline bundle: the spool holds a frame of %d bytes", size)
		}
		f := make([]byte, size)
		if _, err := io.ReadFull(r, f); err != nil {
			return fmt.Errorf("offline bundle: reading the spool: %w", err)
		}
		if err := each(f); err != nil {
			return err
		}
	}
}

// close closes the spool's file and removes it, if it is still there.
func (sp *spool) close() {
	sp.f.Close()
	if !sp.removed {
		os.Remove(sp.f.Name())
	}
}
