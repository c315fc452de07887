package link_test

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"hotline/internal/identity"
	"hotline/internal/link"
)

// TestChainedKeys: over real TLS, a station that rotated presents its new
// key with the rotation statement in its certificate; a peer that has the
// old key pinned follows it, as server and as client. A statement made by
// another key is not followed, and neither is a certificate without one.
func TestChainedKeys(t *testing.T) {
	old, _ := identity.NewKeys("alpha")
	nk, _ := identity.NewKeys("alpha")
	card, _ := identity.NewCard(nk, "red", nil, time.Unix(1_800_000_000, 0))
	stmt, err := identity.NewRotation(old, card, identity.ReasonRotate, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	impostor, _ := identity.NewKeys("alpha")
	forged, _ := identity.NewRotation(impostor, card, identity.ReasonRotate, time.Unix(1_800_000_000, 0))
	bravo, _ := identity.NewKeys("bravo")
	bravoCert, _ := link.Certificate("bravo", bravo.Sign)
	follow := func(k ed25519.PublicKey, stmts [][]byte) (string, bool) {
		if k.Equal(old.SignPublic()) {
			return "alpha", true
		}
		got, path := identity.Follow("alpha", old.SignPublic(), stmts, nil)
		return "alpha", len(path) > 0 && got.Equal(k)
	}
	cases := []struct {
		name  string
		stmts [][]byte
		ok    bool
	}{
		{"with the statement", [][]byte{stmt.Text}, true},
		{"without a statement", nil, false},
		{"with a statement by another key", [][]byte{forged.Text}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert, err := link.CertificateWith("alpha", nk.Sign, c.stmts)
			if err != nil {
				t.Fatal(err)
			}
			// alpha dials bravo, which has alpha's old key pinned.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			srv := link.ChainServerConfig(func() tls.Certificate { return bravoCert }, follow)
			done := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- err
					return
				}
				tc := tls.Server(c, srv)
				done <- tc.Handshake()
				tc.Close()
			}()
			cli := link.ChainClientConfig(func() tls.Certificate { return cert }, "bravo", func(k ed25519.PublicKey, _ [][]byte) error {
				if !k.Equal(bravo.SignPublic()) {
					return errors.New("not bravo")
				}
				return nil
			})
			tc, err := tls.Dial("tcp", ln.Addr().String(), cli)
			if err == nil {
				tc.Close()
			}
			serr := <-done
			if (serr == nil) != c.ok {
				t.Errorf("server side: %v, want ok=%v", serr, c.ok)
			}
			if !c.ok && serr != nil && !errors.Is(serr, link.ErrNotPinned) {
				t.Errorf("server refused with %v, want ErrNotPinned", serr)
			}
			// bravo dials alpha: the client follows the server's chain.
			ln2, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln2.Close()
			go func() {
				c, err := ln2.Accept()
				if err != nil {
					return
				}
				tc := tls.Server(c, link.ChainServerConfig(func() tls.Certificate { return cert }, func(ed25519.PublicKey, [][]byte) (string, bool) { return "bravo", true }))
				tc.Handshake()
				tc.Close()
			}()
			cli2 := link.ChainClientConfig(func() tls.Certificate { return bravoCert }, "alpha", func(k ed25519.PublicKey, s [][]byte) error {
				if _, ok := follow(k, s); !ok {
					return errors.New("not alpha's chain")
				}
				return nil
			})
			tc2, err := tls.Dial("tcp", ln2.Addr().String(), cli2)
			if err == nil {
				tc2.Close()
			}
			if (err == nil) != c.ok {
				t.Errorf("client side: %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, link.ErrNotPinned) {
				t.Errorf("client refused with %v, want ErrNotPinned", err)
			}
		})
	}
}
