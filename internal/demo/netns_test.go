package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hotline/internal/api"
	"hotline/internal/identity"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
	"hotline/internal/transcript"
)

// namespaces is a set of Linux network namespaces made for one test, each
// named with the test process's id so that runs side by side do not meet.
// Addresses inside them (10.77.0.0/16) are reachable only from them.
type namespaces struct {
	t      *testing.T
	prefix string
	made   []string
}

// newNamespaces makes namespaces possible, or skips the test saying why.
func newNamespaces(t *testing.T) *namespaces {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (ip netns); run as root, as CI does")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespaces need iproute2 (ip): apt-get install iproute2")
	}
	ns := &namespaces{t: t, prefix: fmt.Sprintf("hl%d", os.Getpid())}
	probe := ns.prefix + "probe"
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("network namespaces are not permitted here: ip netns add: %v: %s", err, out)
	}
	exec.Command("ip", "netns", "del", probe).Run()
	t.Cleanup(func() {
		for _, n := range ns.made {
			exec.Command("ip", "netns", "del", n).Run()
		}
	})
	return ns
}

// ip runs ip with args and fails the test if it fails.
func (ns *namespaces) ip(args ...string) {
	ns.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		ns.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (ns *namespaces) add(name string) string {
	ns.t.Helper()
	full := ns.prefix + name
	ns.ip("netns", "add", full)
	ns.made = append(ns.made, full)
	ns.ip("-n", full, "link", "set", "lo", "up")
	return full
}

// wire gives namespace full an interface dev with address addr (CIDR),
// plugged into bridge br of the switch namespace sw.
func (ns *namespaces) wire(full, dev, addr, sw, br string) {
	ns.t.Helper()
	port := strings.TrimPrefix(full, ns.prefix) + "-" + dev
	ns.ip("-n", full, "link", "add", dev, "type", "veth", "peer", "name", port, "netns", sw)
	ns.ip("-n", sw, "link", "set", port, "master", br, "up")
	ns.ip("-n", full, "addr", "add", addr, "dev", dev)
	ns.ip("-n", full, "link", "set", dev, "up")
}

// link takes an interface of a namespace up or down.
func (ns *namespaces) link(full, dev, state string) {
	ns.t.Helper()
	ns.ip("-n", full, "link", "set", dev, state)
}

// exec is the command prefix that runs a program in namespace full.
func (ns *namespaces) exec(full string) []string { return []string{"ip", "netns", "exec", full} }

// TestNetworkNamespaces: two stations and a relay as real processes, each
// in its own network namespace. The stations share a "direct" network and
// all three a "relay" network (two Linux bridges in a switch namespace,
// joined by veth pairs). The test partitions them by taking links down:
// USA's direct link (traffic goes over the relay), then CHN's every link
// (nothing gets through; USA's sends wait) while CHN is SIGKILLed and
// restarted, then heals with the relay SIGSTOPped, and SIGCONTs it.
// Everything is checked from outside, through the CLI run in each
// namespace: every send
// delivered exactly once, in order, and both exported transcripts verify
// and hold the same logs.
func TestNetworkNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes in network namespaces")
	}
	ns := newNamespaces(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	sw := ns.add("sw")
	for _, br := range []string{"direct", "relay"} {
		ns.ip("-n", sw, "link", "add", br, "type", "bridge")
		ns.ip("-n", sw, "link", "set", br, "up")
	}
	nsUSA, nsCHN, nsRelay := ns.add("usa"), ns.add("chn"), ns.add("relay")
	ns.wire(nsUSA, "d0", "10.77.1.1/24", sw, "direct")
	ns.wire(nsCHN, "d0", "10.77.1.2/24", sw, "direct")
	ns.wire(nsUSA, "r0", "10.77.2.1/24", sw, "relay")
	ns.wire(nsCHN, "r0", "10.77.2.2/24", sw, "relay")
	ns.wire(nsRelay, "r0", "10.77.2.3/24", sw, "relay")

	root := t.TempDir()
	hl := func(full string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", full, binary}, args...)...)
		return cmd.CombinedOutput()
	}
	must := func(full string, args ...string) []byte {
		t.Helper()
		out, err := hl(full, args...)
		if err != nil {
			t.Fatalf("hotline %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// The relay.
	rdir := filepath.Join(root, "relay")
	must(nsRelay, "relay", "init", "--dir", rdir, "--name", "NEUTRAL", "--listen", "10.77.2.3:7003")
	rcardText, err := os.ReadFile(filepath.Join(rdir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	rcard, err := identity.ParseCard(rcardText)
	if err != nil {
		t.Fatal(err)
	}
	relayLog, err := os.Create(filepath.Join(rdir, "relay.log"))
	if err != nil {
		t.Fatal(err)
	}
	relayCmd := exec.Command("ip", "netns", "exec", nsRelay, binary, "relay", "run", "--dir", rdir)
	relayCmd.Stdout, relayCmd.Stderr = relayLog, relayLog
	if err := relayCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		relayCmd.Process.Signal(syscall.SIGKILL)
		relayCmd.Wait()
		relayLog.Close()
	})

	// The stations: direct endpoints on the direct network, the relay in
	// their cards.
	var nodes []*Node
	for i, s := range []struct{ name, ns string }{{"USA", nsUSA}, {"CHN", nsCHN}} {
		dir := filepath.Join(root, strings.ToLower(s.name))
		addr := fmt.Sprintf("10.77.1.%d:7001", i+1)
		if _, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: s.name, Party: s.name, PeerListen: addr,
			APIListen: "127.0.0.1:0", Endpoints: []string{addr}}); err != nil {
			t.Fatal(err)
		}
		card, err := stationdir.AddRelay(ctx, dir, rcardText, rcard.Fingerprint())
		if err != nil {
			t.Fatal(err)
		}
		must(nsRelay, "relay", "allow", "--dir", rdir, "--card", filepath.Join(dir, "card"), "--fingerprint", card.Fingerprint())
		nodes = append(nodes, &Node{Name: s.name, Party: s.name, Dir: dir, Binary: binary, Fingerprint: card.Fingerprint(), Exec: ns.exec(s.ns)})
	}
	usa, chn := nodes[0], nodes[1]
	nsOf := map[*Node]string{usa: nsUSA, chn: nsCHN}
	for _, pin := range [][2]*Node{{usa, chn}, {chn, usa}} {
		card, err := os.ReadFile(filepath.Join(pin[1].Dir, "card"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pin[0].Offline(ctx, func(o ops.Ops) error {
			_, err := o.AddPeer(ctx, card, pin[1].Fingerprint)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	const ch = "ops"
	if err := usa.Offline(ctx, func(o ops.Ops) error {
		_, err := o.Propose(ctx, ops.ProposeRequest{Peer: "CHN", Channel: ch, Level: "staff"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if err := n.Launch(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(syscall.SIGTERM) })
	}

	// Everything from here goes through the CLI in each namespace.
	poll := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s\nUSA: %s\nCHN: %s", what, usa.LastLog(), chn.LastLog())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	channels := func(n *Node) []ops.ChannelView {
		out, err := hl(nsOf[n], "channel", "list", "--dir", n.Dir, "--json")
		if err != nil {
			return nil // not up yet
		}
		var cs []ops.ChannelView
		if err := json.Unmarshal(out, &cs); err != nil {
			t.Fatalf("channel list --json: %v\n%s", err, out)
		}
		return cs
	}
	// A CLI verb opens a station that no hotline run holds by itself: wait
	// until each run holds its station (it writes api.addr) before any.
	waitRun := func(n *Node) {
		t.Helper()
		poll(n.Name+"'s hotline run to hold its station", func() bool {
			_, err := os.Stat(filepath.Join(n.Dir, api.AddrFile))
			return err == nil
		})
	}
	for _, n := range nodes {
		waitRun(n)
	}
	poll("the proposal at CHN", func() bool { return len(channels(chn)) == 1 })
	must(nsCHN, "channel", "accept", "--dir", chn.Dir, "--channel", ch)
	poll("the channel agreed at USA", func() bool {
		cs := channels(usa)
		return len(cs) == 1 && cs[0].Agreement == "active"
	})

	sent := map[*Node][]string{}
	sendSome := func(n *Node, k int, phase string) {
		t.Helper()
		for i := range k {
			out := must(nsOf[n], "send", "--dir", n.Dir, "--channel", ch, "--precedence", "PRIORITY",
				"--text", fmt.Sprintf("%s %s %d", n.Name, phase, i), "--json")
			var m ops.MessageView
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("send --json: %v\n%s", err, out)
			}
			sent[n] = append(sent[n], m.ID)
		}
	}
	outbox := func(n *Node) []ops.MessageView {
		t.Helper()
		var ms []ops.MessageView
		if err := json.Unmarshal(must(nsOf[n], "outbox", "--dir", n.Dir, "--channel", ch, "--json"), &ms); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	queued := func(n *Node) int {
		q := 0
		for _, m := range outbox(n) {
			if m.Status == "queued" {
				q++
			}
		}
		return q
	}
	allDelivered := func(what string) {
		t.Helper()
		poll(what, func() bool { return queued(usa) == 0 && queued(chn) == 0 })
	}

	sendSome(usa, 10, "all up")
	sendSome(chn, 10, "all up")
	allDelivered("delivery with every link up")

	// USA's direct link down: the relay carries everything.
	ns.link(nsUSA, "d0", "down")
	sendSome(usa, 10, "over the relay")
	sendSome(chn, 10, "over the relay")
	allDelivered("delivery over the relay with the direct network cut")
	poll("USA to show the channel degraded (relay only)", func() bool {
		cs := channels(usa)
		return len(cs) == 1 && cs[0].State == "degraded"
	})

	// CHN cut off from everything: USA's sends wait. Meanwhile CHN is
	// SIGKILLed and restarted, and the relay SIGSTOPped.
	ns.link(nsCHN, "d0", "down")
	ns.link(nsCHN, "r0", "down")
	sendSome(usa, 10, "partitioned")
	if q := queued(usa); q == 0 {
		t.Error("USA's sends were delivered while CHN was cut off")
	}
	if err := chn.Stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := chn.Launch(); err != nil {
		t.Fatal(err)
	}
	waitRun(chn)
	sendSome(chn, 5, "restarted while cut off")
	if err := relayCmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Heal, the relay still stopped: the direct network carries it all.
	for _, l := range [][2]string{{nsUSA, "d0"}, {nsCHN, "d0"}, {nsCHN, "r0"}} {
		ns.link(l[0], l[1], "up")
	}
	sendSome(usa, 5, "relay stopped")
	allDelivered("delivery after the partition healed, with the relay stopped")
	if err := relayCmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	sendSome(chn, 5, "healed")
	allDelivered("delivery with the relay back")

	t.Logf("sent %d from USA, %d from CHN, through a relay-only phase, a partition with a SIGKILL, and a stopped relay", len(sent[usa]), len(sent[chn]))
	// Every send exactly once, in order, at the peer.
	for _, pair := range [][2]*Node{{usa, chn}, {chn, usa}} {
		n, peer := pair[0], pair[1]
		var in []ops.MessageView
		if err := json.Unmarshal(must(nsOf[peer], "inbox", "--dir", peer.Dir, "--channel", ch, "--json"), &in); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range in {
			if m.Kind == "text" && m.From == n.Name {
				got = append(got, m.ID)
			}
		}
		if strings.Join(got, " ") != strings.Join(sent[n], " ") {
			t.Errorf("%s sent %v\n%s holds %v", n.Name, sent[n], peer.Name, got)
		}
	}
	// Both transcripts, exported through the CLI, verify and agree.
	var bundles []*transcript.Bundle
	for _, n := range nodes {
		file := filepath.Join(t.TempDir(), strings.ToLower(n.Name)+".bundle")
		must(nsOf[n], "export", "--dir", n.Dir, "--channel", ch, "--out", file)
		out, err := exec.CommandContext(ctx, binary, "verify", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "verified") {
			t.Fatalf("hotline verify of %s's transcript: %v\n%s", n.Name, err, out)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		b, err := transcript.ReadBundle(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, b)
	}
	for _, la := range bundles[0].Logs {
		for _, lb := range bundles[1].Logs {
			if la.Author == lb.Author && fmt.Sprint(la.Entries) != fmt.Sprint(lb.Entries) {
				t.Errorf("log of %s differs between the two transcripts", la.Author)
			}
		}
	}
}
