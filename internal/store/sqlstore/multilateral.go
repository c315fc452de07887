package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"hotline/internal/store"
)

// SetGroup stores a group of peers, replacing one of that name.
func (s *Store) SetGroup(ctx context.Context, g store.Group) error {
	_, err := s.exec(ctx, `INSERT INTO peer_groups (name, peers, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET peers = excluded.peers, updated_at = excluded.updated_at`,
		g.Name, strings.Join(g.Peers, "\n"), nanos(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("group %s: %w", g.Name, err)
	}
	return nil
}

// RemoveGroup removes a group.
func (s *Store) RemoveGroup(ctx context.Context, name string) error {
	res, err := s.exec(ctx, `DELETE FROM peer_groups WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("group %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("group %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// Groups lists the groups by name.
func (s *Store) Groups(ctx context.Context) ([]store.Group, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, peers, updated_at FROM peer_groups ORDER BY name`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Group
	for rows.Next() {
		var g store.Group
		var peers string
		var at int64
		if err := rows.Scan(&g.Name, &peers, &at); err != nil {
			return nil, err
		}
		if peers != "" {
			g.Peers = strings.Split(peers, "\n")
		}
		g.UpdatedAt = fromNanos(at)
		out = append(out, g)
	}
	return out, rows.Err()
}

// AddBroadcast stores a broadcast with its parties, in one transaction.
func (s *Store) AddBroadcast(ctx context.Context, b store.Broadcast) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO broadcasts (id, kind, precedence, at, addressed, summary)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		b.ID, b.Kind, b.Precedence, nanos(b.At), b.To, b.Summary)
	if err != nil {
		return fmt.Errorf("broadcast %s: %w", b.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("broadcast %s: %w", b.ID, store.ErrConflict)
	}
	for i, p := range b.Parties {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO broadcast_parties (broadcast, pos, peer, channel, entry, refused)
			VALUES (?, ?, ?, ?, ?, ?)`), b.ID, i, p.Peer, p.Channel, p.Entry, p.Refused); err != nil {
			return fmt.Errorf("broadcast %s, party %s: %w", b.ID, p.Peer, err)
		}
	}
	return tx.Commit()
}

// SetBroadcastParty records what was written for one party.
func (s *Store) SetBroadcastParty(ctx context.Context, id string, p store.BroadcastParty) error {
	res, err := s.exec(ctx, `UPDATE broadcast_parties SET channel = ?, entry = ?, refused = ? WHERE broadcast = ? AND peer = ?`,
		p.Channel, p.Entry, p.Refused, id, p.Peer)
	if err != nil {
		return fmt.Errorf("broadcast %s, party %s: %w", id, p.Peer, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("broadcast %s, party %s: %w", id, p.Peer, store.ErrNotFound)
	}
	return nil
}

// Broadcast returns one broadcast with its parties.
func (s *Store) Broadcast(ctx context.Context, id string) (*store.Broadcast, error) {
	bs, err := s.broadcasts(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("broadcast %s: %w", id, store.ErrNotFound)
	}
	return &bs[0], nil
}

// Broadcasts lists broadcasts, newest first.
func (s *Store) Broadcasts(ctx context.Context, limit int) ([]store.Broadcast, error) {
	if limit <= 0 {
		return s.broadcasts(ctx, `ORDER BY seq DESC`)
	}
	return s.broadcasts(ctx, `ORDER BY seq DESC LIMIT ?`, limit)
}

func (s *Store) broadcasts(ctx context.Context, where string, args ...any) ([]store.Broadcast, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, kind, precedence, at, addressed, summary FROM broadcasts `+where), args...)
	if err != nil {
		return nil, err
	}
	var out []store.Broadcast
	for rows.Next() {
		var b store.Broadcast
		var at int64
		if err := rows.Scan(&b.ID, &b.Kind, &b.Precedence, &at, &b.To, &b.Summary); err != nil {
			rows.Close()
			return nil, err
		}
		b.At = fromNanos(at)
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Parties, err = s.broadcastParties(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) broadcastParties(ctx context.Context, id string) ([]store.BroadcastParty, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT peer, channel, entry, refused FROM broadcast_parties WHERE broadcast = ? ORDER BY pos`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.BroadcastParty
	for rows.Next() {
		var p store.BroadcastParty
		if err := rows.Scan(&p.Peer, &p.Channel, &p.Entry, &p.Refused); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// AddIntroduction keeps the introduction a peer was pinned on.
func (s *Store) AddIntroduction(ctx context.Context, in store.Introduction) error {
	_, err := s.exec(ctx, `INSERT INTO introductions (peer, introducer, statement, confirmed_by, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (peer) DO UPDATE SET introducer = excluded.introducer, statement = excluded.statement,
		confirmed_by = excluded.confirmed_by, at = excluded.at`,
		in.Peer, in.Introducer, in.Statement, in.ConfirmedBy, nanos(in.At))
	if err != nil {
		return fmt.Errorf("introduction of %s: %w", in.Peer, err)
	}
	return nil
}

// Introductions lists the introductions kept, by peer.
func (s *Store) Introductions(ctx context.Context) ([]store.Introduction, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT peer, introducer, statement, confirmed_by, at FROM introductions ORDER BY peer`))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Introduction
	for rows.Next() {
		var in store.Introduction
		var at int64
		if err := rows.Scan(&in.Peer, &in.Introducer, &in.Statement, &in.ConfirmedBy, &at); err != nil {
			return nil, err
		}
		in.At = fromNanos(at)
		out = append(out, in)
	}
	return out, rows.Err()
}
