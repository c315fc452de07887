package linkemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Namespace is a Linux network namespace made with ip netns add (so that
// ip netns exec, and so hotline run under it, finds it by name).
type Namespace struct {
	Name string
	f    *os.File // /run/netns/NAME, held open for setns
}

// Available says why namespaces and TUN devices cannot be made here, or
// nil: they need root, iproute2 and /dev/net/tun.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("the link emulator needs root (network namespaces and TUN devices)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the link emulator needs iproute2 (ip): apt-get install iproute2")
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("the link emulator needs the TUN device: %w", err)
	}
	f.Close()
	return nil
}

// ip runs ip with args.
func ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// AddNamespace makes the namespace name, with its loopback up.
func AddNamespace(name string) (*Namespace, error) {
	if err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Namespace{Name: name}
	f, err := os.Open(filepath.Join("/run/netns", name))
	if err != nil {
		ip("netns", "del", name)
		return nil, err
	}
	ns.f = f
	if err := ip("-n", name, "link", "set", "lo", "up"); err != nil {
		ns.Delete()
		return nil, err
	}
	return ns, nil
}

// Delete removes the namespace (its devices go with it once no process
// holds them).
func (ns *Namespace) Delete() error {
	if ns.f != nil {
		ns.f.Close()
	}
	return ip("netns", "del", ns.Name)
}

// Exec is the command prefix that runs a program in the namespace.
func (ns *Namespace) Exec() []string { return []string{"ip", "netns", "exec", ns.Name} }

// IP runs ip with args in the namespace.
func (ns *Namespace) IP(args ...string) error { return ip(append([]string{"-n", ns.Name}, args...)...) }

// Do runs f on an OS thread moved into the namespace: sockets and
// devices f makes belong to it, and stay there after f returns. The
// thread goes back to the process's namespace afterwards, or is thrown
// away if it cannot.
func (ns *Namespace) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return // the thread ends with the goroutine, locked
		}
		defer self.Close()
		if err := unix.Setns(int(ns.f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", ns.Name, err)
			return
		}
		err = f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// inside returns what make makes on a thread in the namespace.
func inside[T any](ns *Namespace, make func() (T, error)) (T, error) {
	var v T
	err := ns.Do(func() error {
		var err error
		v, err = make()
		return err
	})
	return v, err
}

// DialContext dials addr from inside the namespace (for an HTTP
// transport's DialContext).
func (ns *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return inside(ns, func() (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, network, addr) })
}

// Listen listens on addr inside the namespace.
func (ns *Namespace) Listen(network, addr string) (net.Listener, error) {
	return inside(ns, func() (net.Listener, error) { return net.Listen(network, addr) })
}

// ListenPacket listens for packets on addr inside the namespace.
func (ns *Namespace) ListenPacket(network, addr string) (net.PacketConn, error) {
	return inside(ns, func() (net.PacketConn, error) { return net.ListenPacket(network, addr) })
}

// OpenTUN makes the TUN device dev in the namespace and returns the file
// its packets are read from and written to (one IP packet per read or
// write, no packet information header). The device goes when the file
// is closed.
func (ns *Namespace) OpenTUN(dev string) (*os.File, error) {
	var f *os.File
	err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("opening /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(dev)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("making TUN device %s: %w", dev, err)
		}
		// IPv6 off on the device: its router solicitations and the like
		// would be traffic the measurements did not ask for.
		os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", []byte("1"), 0)
		f = os.NewFile(uintptr(fd), "tun:"+ns.Name+"/"+dev)
		return nil
	})
	return f, err
}

// Testbed is two namespaces, A and B, each with a TUN device, joined by
// a Link: A is AddrA and B is AddrB, and each reaches the other only
// through the link.
type Testbed struct {
	A, B         *Namespace
	AddrA, AddrB string // IPv4 addresses, without port
	Link         *Link
	tuns         [2]*os.File
}

// tunDev is the name of the TUN device in each namespace.
const tunDev = "hl0"

// NewTestbed makes namespaces prefix+"a" and prefix+"b" joined by a link
// under p. The prefix keeps runs side by side apart: give it the
// process's id.
func NewTestbed(prefix string, p Profile, seed uint64) (tb *Testbed, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tb = &Testbed{AddrA: "10.79.0.1", AddrB: "10.79.0.2"}
	defer func() {
		if err != nil {
			tb.Close()
			tb = nil
		}
	}()
	if tb.A, err = AddNamespace(prefix + "a"); err != nil {
		return tb, err
	}
	if tb.B, err = AddNamespace(prefix + "b"); err != nil {
		return tb, err
	}
	for i, side := range []struct {
		ns         *Namespace
		self, peer string
	}{{tb.A, tb.AddrA, tb.AddrB}, {tb.B, tb.AddrB, tb.AddrA}} {
		if tb.tuns[i], err = side.ns.OpenTUN(tunDev); err != nil {
			return tb, err
		}
		if err = side.ns.IP("addr", "add", side.self+"/32", "peer", side.peer+"/32", "dev", tunDev); err != nil {
			return tb, err
		}
		if err = side.ns.IP("link", "set", tunDev, "mtu", strconv.Itoa(p.MTU), "up"); err != nil {
			return tb, err
		}
	}
	tb.Link, err = New(tb.tuns[0], tb.tuns[1], p, seed)
	return tb, err
}

// Set changes the link's profile, and the devices' MTU with it.
func (tb *Testbed) Set(p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for _, ns := range []*Namespace{tb.A, tb.B} {
		if err := ns.IP("link", "set", tunDev, "mtu", strconv.Itoa(p.MTU)); err != nil {
			return err
		}
	}
	return tb.Link.Set(p)
}

// Close stops the link and removes the namespaces.
func (tb *Testbed) Close() error {
	if tb.Link != nil {
		tb.Link.Close()
	}
	for _, f := range tb.tuns {
		if f != nil {
			f.Close()
		}
	}
	if tb.Link != nil {
		tb.Link.Wait()
	}
	var errs []error
	for _, ns := range []*Namespace{tb.A, tb.B} {
		if ns != nil {
			errs = append(errs, ns.Delete())
		}
	}
	return errors.Join(errs...)
}
