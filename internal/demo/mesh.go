package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"hotline/internal/ops"
)

// Mesh is stations that have each pinned every other and agreed one
// channel with each: a multilateral network of bilateral channels.
type Mesh struct {
	Nodes []*Node
}

// MeshChannel names the channel between stations a and b.
func MeshChannel(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return strings.ToLower(a + "-" + b)
}

// NewMesh creates a station for each name under root, pins every pair
// (as their signal officers would after reading fingerprints aloud) and
// agrees one channel at level between every pair: while all are offline
// the first of each pair in names' order proposes, then all start and
// each accepts what was proposed to it. wait bounds each wait for an
// agreement to cross.
func NewMesh(ctx context.Context, root, binary string, names []string, level string, wait time.Duration) (*Mesh, error) {
	m := &Mesh{}
	for _, name := range names {
		n, err := NewNode(ctx, root, binary, name, name)
		if err != nil {
			return nil, err
		}
		m.Nodes = append(m.Nodes, n)
	}
	cards := map[string][]byte{}
	for _, n := range m.Nodes {
		card, err := os.ReadFile(filepath.Join(n.Dir, "card"))
		if err != nil {
			return nil, err
		}
		cards[n.Name] = card
	}
	for i, n := range m.Nodes {
		if err := n.Offline(ctx, func(o ops.Ops) error {
			for _, p := range m.Nodes {
				if p == n {
					continue
				}
				if _, err := o.AddPeer(ctx, cards[p.Name], p.Fingerprint); err != nil {
					return fmt.Errorf("pinning %s: %w", p.Name, err)
				}
			}
			for _, p := range m.Nodes[i+1:] {
				if _, err := o.Propose(ctx, ops.ProposeRequest{Peer: p.Name, Channel: MeshChannel(n.Name, p.Name), Level: level}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	for _, n := range m.Nodes {
		if err := n.Start(ctx); err != nil {
			m.Stop()
			return nil, err
		}
	}
	errs := make([]error, len(m.Nodes))
	var wg sync.WaitGroup
	for j, n := range m.Nodes {
		wg.Go(func() {
			for _, p := range m.Nodes[:j] {
				if errs[j] = m.accept(ctx, n, p, wait); errs[j] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// accept has n accept the channel p proposed, once it has arrived, and
// waits until p holds n's acceptance.
func (m *Mesh) accept(ctx context.Context, n, p *Node, wait time.Duration) error {
	id := MeshChannel(n.Name, p.Name)
	has := func(n *Node, state string) func() (bool, error) {
		return func() (bool, error) {
			cs, err := n.Client().Channels(ctx)
			for _, c := range cs {
				if c.ID == id && (state == "" || c.Agreement == state) {
					return true, err
				}
			}
			return false, err
		}
	}
	if err := WaitFor(ctx, n.Client(), wait, has(n, "")); err != nil {
		return fmt.Errorf("proposal of %s did not reach %s: %w", id, n.Name, err)
	}
	if _, err := n.Client().Accept(ctx, id); err != nil {
		return fmt.Errorf("%s accepting %s: %w", n.Name, id, err)
	}
	if err := WaitFor(ctx, p.Client(), wait, has(p, "active")); err != nil {
		return fmt.Errorf("acceptance of %s did not reach %s: %w", id, p.Name, err)
	}
	return nil
}

// Stop stops every station.
func (m *Mesh) Stop() {
	var wg sync.WaitGroup
	for _, n := range m.Nodes {
		wg.Go(func() { n.Stop(syscall.SIGTERM) })
	}
	wg.Wait()
}
