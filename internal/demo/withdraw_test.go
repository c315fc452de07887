package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/ops"
)

// TestCrossingProposalsProcesses: two real hotline processes (SQLite,
// TLS on loopback) whose officers proposed the same channel to each
// other while neither ran (crossing proposals). Each refuses the other's.
// CHN's officer withdraws CHN's with hotline channel withdraw (through the
// running station's API); CHN is SIGKILLed and restarted; USA's proposal
// then waits at CHN, is accepted there, and the channel carries messages
// both ways. Both exported transcripts pass hotline verify.
func TestCrossingProposalsProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	var nodes []*Node
	for _, name := range []string{"USA", "CHN"} {
		n, err := NewNode(ctx, root, binary, name, name)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	usa, chn := nodes[0], nodes[1]
	for _, pin := range [][2]*Node{{usa, chn}, {chn, usa}} {
		self, other := pin[0], pin[1]
		card, err := os.ReadFile(filepath.Join(other.Dir, "card"))
		if err != nil {
			t.Fatal(err)
		}
		if err := self.Offline(ctx, func(o ops.Ops) error {
			if _, err := o.AddPeer(ctx, card, other.Fingerprint); err != nil {
				return err
			}
			_, err := o.Propose(ctx, ops.ProposeRequest{Peer: other.Name, Channel: "x", Level: "staff"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer n.Stop(syscall.SIGTERM)
	}
	agreement := func(n *Node) string {
		cs, err := n.Client().Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.ID == "x" {
				return c.Agreement
			}
		}
		return ""
	}
	for _, n := range nodes {
		if err := WaitFor(ctx, n.Client(), time.Minute, func() (bool, error) {
			s, err := n.Client().Status(ctx)
			return err == nil && s.Refused["crossing proposals"] > 0, err
		}); err != nil {
			t.Fatalf("%s does not refuse the crossing proposal: %v", n.Name, err)
		}
	}
	if out := hotlineCLI(t, "channel", "withdraw", "--dir", chn.Dir, "--channel", "x", "--reason", "USA's stands", "--as", "Col. Wang"); !strings.Contains(out, "withdrew channel x") {
		t.Fatalf("channel withdraw printed %q", out)
	}
	if err := WaitFor(ctx, chn.Client(), time.Minute, func() (bool, error) { return agreement(chn) == "incoming", nil }); err != nil {
		t.Fatalf("USA's proposal does not wait at CHN after CHN withdrew its own: %v", err)
	}
	if err := chn.Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := chn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := agreement(chn); got != "incoming" {
		t.Fatalf("x at CHN after a restart: %s", got)
	}
	if got := agreement(usa); got != "proposed" {
		t.Fatalf("x at USA: %s", got)
	}
	if _, err := chn.Client().Accept(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, usa.Client(), time.Minute, func() (bool, error) { return agreement(usa) == "active", nil }); err != nil {
		t.Fatalf("x not active at USA: %v", err)
	}
	for _, n := range nodes {
		if _, err := n.Client().Send(ctx, ops.SendRequest{Channel: "x", Precedence: "FLASH", Text: "from " + n.Name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		c := n.Client()
		if err := WaitFor(ctx, c, time.Minute, func() (bool, error) {
			chs, err := c.Channels(ctx)
			if err != nil || len(chs) != 1 {
				return false, err
			}
			return chs[0].Delivered == chs[0].Written && chs[0].Received > 0, nil
		}); err != nil {
			t.Fatalf("%s: messages not delivered both ways: %v", n.Name, err)
		}
	}
	for _, n := range nodes {
		file := filepath.Join(root, strings.ToLower(n.Name)+"-x.json")
		hotlineCLI(t, "export", "--dir", n.Dir, "--channel", "x", "--out", file)
		if out := hotlineCLI(t, "verify", file); strings.Contains(out, "nothing ties it") {
			t.Errorf("%s's transcript: the charter is not tied to the entries:\n%s", n.Name, out)
		}
	}
}
