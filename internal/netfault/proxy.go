// Package netfault is a TCP proxy for tests that puts faults between real
// processes: it can cut every connection and refuse new ones (a path that
// is down and says so), black-hole them (a path that goes silent: bytes
// vanish, connections stay open), and heal; and run a seeded Schedule of
// delays, stalls, cuts and corrupted bytes. The kernel these tests run on
// has no netem, so faults are made here, in user space.
package netfault

import (
	"net"
	"sync"
)

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	hole  bool
	conns map[net.Conn]struct{}
	cuts  int
	done  chan struct{}

	shape  *shaper        // the schedule running, if any
	counts map[string]int // faults a schedule applied, by kind
}

// Listen starts a proxy on a free loopback port to target.
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, done: make(chan struct{}), counts: map[string]int{}}
	go p.serve()
	return p, nil
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection through the proxy and refuses new ones
// until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	p.cuts++
	for c := range p.conns {
		c.Close()
	}
}

// Blackhole drops every byte through the proxy from now on, without
// closing anything, and accepts new connections into the same hole, until
// Heal. Connections that carried dropped bytes are closed by Heal: their
// streams are broken.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.hole = true
	p.mu.Unlock()
}

// Heal lets connections through again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hole {
		for c := range p.conns {
			c.Close()
		}
	}
	p.down, p.hole = false, false
}

// cutAll closes every connection through the proxy; new ones are
// accepted.
func (p *Proxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *Proxy) count(kind string) {
	p.mu.Lock()
	p.counts[kind]++
	p.mu.Unlock()
}

func (p *Proxy) shaper() *shaper {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shape
}

func (p *Proxy) holed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hole
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Cut()
	<-p.done
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) serve() {
	defer close(p.done)
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(t) {
		c.Close()
		t.Close()
		return
	}
	defer p.untrack(t)
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			data := buf[:n]
			if sh := p.shaper(); n > 0 && sh != nil {
				data = sh.apply(p, data)
			}
			if n > 0 && !p.holed() {
				if _, werr := dst.Write(data); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go pipe(t, c)
	go pipe(c, t)
	wg.Wait()
}
