// Package demo sets up two stations on loopback as real processes, pairs
// them and agrees channels: the demo, the benchmark and the process tests
// all start from here.
package demo

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hotline/internal/api"
	"hotline/internal/ops"
	"hotline/internal/station"
	"hotline/internal/stationdir"
)

// Node is one station directory and, while it runs, its process.
type Node struct {
	Name, Party, Dir string
	Binary           string
	Fingerprint      string
	// Exec, if set, is the command hotline run is run under (such as
	// ip netns exec NS, to run it in a network namespace).
	Exec []string
	// Dial, if set, is how the API of the running process is dialled
	// (from inside its network namespace).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // how the process exited, once exited is closed
	client  *api.Client
}

// Client returns the API client of the running process.
func (n *Node) Client() *api.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.client
}

// freePort picks a loopback address for a station's peer listener, which
// is written into its card and bound only when the station starts. It
// picks below the kernel's ephemeral range, from which the local ports of
// outgoing connections (any other test's among them) are drawn: a port
// from that range can be taken by one of them before the station binds it.
func freePort() (string, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 12000 {
		for range 100 {
			port := 10000 + mrand.IntN(low-10000)
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				ln.Close()
				return ln.Addr().String(), nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// NewNode creates a station directory under root.
func NewNode(ctx context.Context, root, binary, name, party string) (*Node, error) {
	return NewNodeWith(ctx, root, binary, name, party, nil)
}

// NewNodeWith creates a station directory under root whose card advertises
// the endpoints endpoints returns for its peer listener (for a proxy in
// front of it); nil advertises the listener itself.
func NewNodeWith(ctx context.Context, root, binary, name, party string, endpoints func(listen string) ([]string, error)) (*Node, error) {
	return newNode(ctx, root, binary, name, party, endpoints, "", "")
}

// newNode is NewNodeWith on the store named by storeURL ("" for SQLite in
// the station directory), its peer listener on addr ("" for a free
// loopback port).
func newNode(ctx context.Context, root, binary, name, party string, endpoints func(listen string) ([]string, error), storeURL, addr string) (*Node, error) {
	var err error
	if addr == "" {
		if addr, err = freePort(); err != nil {
			return nil, err
		}
	}
	var eps []string
	if endpoints != nil {
		if eps, err = endpoints(addr); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(root, strings.ToLower(name))
	card, err := stationdir.Init(ctx, stationdir.InitOptions{Dir: dir, Name: name, Party: party, PeerListen: addr, APIListen: "127.0.0.1:0", Endpoints: eps, Store: storeURL})
	if err != nil {
		return nil, err
	}
	return &Node{Name: name, Party: party, Dir: dir, Binary: binary, Fingerprint: card.Fingerprint()}, nil
}

// Offline opens the station in this process for f, when it is not running.
func (n *Node) Offline(ctx context.Context, f func(ops.Ops) error) error {
	st, err := station.Open(ctx, n.Dir, station.Logger())
	if err != nil {
		return err
	}
	ferr := f(st)
	if err := st.Close(); ferr == nil {
		ferr = err
	}
	return ferr
}

// Start runs hotline run for the node as a child process and waits until
// its API answers.
func (n *Node) Start(ctx context.Context) error {
	if err := n.Launch(); err != nil {
		return err
	}
	return n.WaitAPI(ctx, 20*time.Second)
}

// Launch runs hotline run for the node as a child process, without
// waiting for it: a standby (on a shared store) does not answer until it
// takes over.
func (n *Node) Launch() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("%s is already running", n.Name)
	}
	os.Remove(filepath.Join(n.Dir, api.AddrFile))
	logf, err := os.OpenFile(filepath.Join(n.Dir, "station.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append(append([]string{}, n.Exec...), n.Binary, "run", "--dir", n.Dir)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", n.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	n.cmd, n.exited, n.client = cmd, exited, nil
	return nil
}

// WaitAPI waits until the API of the launched process answers.
func (n *Node) WaitAPI(ctx context.Context, timeout time.Duration) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for {
		if c, err := api.NewClientVia(n.Dir, n.Dial); err == nil {
			if _, statErr := os.Stat(filepath.Join(n.Dir, api.AddrFile)); statErr == nil {
				if err := c.WaitReady(ctx, 5*time.Second); err == nil {
					n.mu.Lock()
					n.client = c
					n.mu.Unlock()
					return nil
				}
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start: %s", n.Name, n.LastLog())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s", n.Name, timeout)
		}
	}
}

// LastLog is the last line the node's processes logged.
func (n *Node) LastLog() string {
	log, _ := os.ReadFile(filepath.Join(n.Dir, "station.log"))
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	return lines[len(lines)-1]
}

// Exited is closed when the launched process has exited; Wait then says how.
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited
}

// Wait returns how the launched process exited, once Exited is closed.
func (n *Node) Wait() error {
	<-n.Exited()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmd, n.client = nil, nil
	return n.waitErr
}

// Stop sends sig and waits for the process to exit.
func (n *Node) Stop(sig syscall.Signal) error {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	n.mu.Lock()
	n.cmd, n.client = nil, nil
	n.mu.Unlock()
	return nil
}

// PID is the process id of the running station, 0 if it is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Detach forgets the process without stopping it.
func (n *Node) Detach() {
	n.mu.Lock()
	n.cmd = nil
	n.mu.Unlock()
}

// Pair is two paired stations.
type Pair struct {
	A, B *Node
}

// NewPair creates two stations under root, pins each to the other (as two
// signal officers would after reading fingerprints aloud), and agrees the
// given channels at the given level: A proposes while offline, both start,
// B accepts once the proposal has arrived.
func NewPair(ctx context.Context, root, binary string, channels map[string]string) (*Pair, error) {
	return NewPairWith(ctx, root, binary, channels, PairOptions{})
}

// PairOptions change how NewPairWith builds the stations.
type PairOptions struct {
	// Endpoints, if set, gives the endpoints a station's card advertises
	// for its peer listener (see NewNodeWith).
	Endpoints func(name, listen string) ([]string, error)
	// Prepare, if set, runs on each new station before the two pin each
	// other (to list relays in its card, say).
	Prepare func(n *Node) error
	// Proposals are channels A proposes after those of the channels map,
	// in order, with their charters' settings (a channel escalating to
	// another comes after it).
	Proposals []ops.ProposeRequest
	// Store, if set, names each station's store (a postgres:// URL);
	// "" or unset keeps SQLite in the station directory.
	Store func(name string) string
	// Listen, if set, gives the address a station's peer listener binds
	// (and its card advertises), instead of a free loopback port.
	Listen func(name string) string
	// Place, if set, is called on each new station before it starts: to
	// set its Exec and Dial, for a station in a network namespace.
	Place func(n *Node)
	// Wait bounds each wait for a channel's agreement to cross (30 s if
	// zero; a slow link needs more).
	Wait time.Duration
}

// NewPairWith is NewPair with options.
func NewPairWith(ctx context.Context, root, binary string, channels map[string]string, o PairOptions) (*Pair, error) {
	var nodes []*Node
	for _, name := range []string{"USA", "CHN"} {
		var eps func(string) ([]string, error)
		if o.Endpoints != nil {
			eps = func(listen string) ([]string, error) { return o.Endpoints(name, listen) }
		}
		storeURL := ""
		if o.Store != nil {
			storeURL = o.Store(name)
		}
		listen := ""
		if o.Listen != nil {
			listen = o.Listen(name)
		}
		n, err := newNode(ctx, root, binary, name, name, eps, storeURL, listen)
		if err != nil {
			return nil, err
		}
		if o.Place != nil {
			o.Place(n)
		}
		if o.Prepare != nil {
			if err := o.Prepare(n); err != nil {
				return nil, err
			}
		}
		nodes = append(nodes, n)
	}
	a, b := nodes[0], nodes[1]
	p := &Pair{A: a, B: b}
	for _, pin := range []struct{ self, other *Node }{{a, b}, {b, a}} {
		card, err := os.ReadFile(filepath.Join(pin.other.Dir, "card"))
		if err != nil {
			return nil, err
		}
		if err := pin.self.Offline(ctx, func(o ops.Ops) error {
			_, err := o.AddPeer(ctx, card, pin.other.Fingerprint)
			return err
		}); err != nil {
			return nil, fmt.Errorf("%s pinning %s: %w", pin.self.Name, pin.other.Name, err)
		}
	}
	var proposals []ops.ProposeRequest
	for id, level := range channels {
		proposals = append(proposals, ops.ProposeRequest{Peer: b.Name, Channel: id, Level: level})
	}
	for _, r := range o.Proposals {
		r.Peer = b.Name
		proposals = append(proposals, r)
	}
	if err := a.Offline(ctx, func(o ops.Ops) error {
		for _, r := range proposals {
			if _, err := o.Propose(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	if err := b.Start(ctx); err != nil {
		a.Stop(syscall.SIGTERM)
		return nil, err
	}
	wait := o.Wait
	if wait == 0 {
		wait = 30 * time.Second
	}
	for _, r := range proposals {
		id := r.Channel
		if err := WaitFor(ctx, b.Client(), wait, func() (bool, error) {
			cs, err := b.Client().Channels(ctx)
			for _, c := range cs {
				if c.ID == id {
					return true, err
				}
			}
			return false, err
		}); err != nil {
			p.Stop()
			return nil, fmt.Errorf("proposal of %s did not reach %s: %w", id, b.Name, err)
		}
		if _, err := b.Client().Accept(ctx, id); err != nil {
			p.Stop()
			return nil, err
		}
		if err := WaitFor(ctx, a.Client(), wait, func() (bool, error) {
			cs, err := a.Client().Channels(ctx)
			for _, c := range cs {
				if c.ID == id && c.Agreement == "active" {
					return true, err
				}
			}
			return false, err
		}); err != nil {
			p.Stop()
			return nil, fmt.Errorf("acceptance of %s did not reach %s: %w", id, a.Name, err)
		}
	}
	return p, nil
}

// Stop stops both processes.
func (p *Pair) Stop() {
	p.A.Stop(syscall.SIGTERM)
	p.B.Stop(syscall.SIGTERM)
}

// WaitFor re-checks cond whenever the station reports an event (and at
// least every 250 ms, in case an event is missed) until it holds.
func WaitFor(ctx context.Context, c *api.Client, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kick := make(chan struct{}, 1)
	go c.Events(ctx, func(api.Event) {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			}
			return ctx.Err()
		case <-kick:
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Signal sends sig to the running process without waiting (SIGSTOP,
// SIGCONT).
func (n *Node) Signal(sig syscall.Signal) error {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s is not running", n.Name)
	}
	return cmd.Process.Signal(sig)
}
