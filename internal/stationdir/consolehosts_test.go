package stationdir_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hotline/internal/stationdir"
)

func TestParseConsoleHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hotline.watch.example", "hotline.watch.example"},
		{"Hotline.Watch.Example.", "hotline.watch.example"},
		{"usa-hotline", "usa-hotline"},
		{"xn--fiqs8s.example", "xn--fiqs8s.example"},
		{"10.0.0.5", "10.0.0.5"},
		{"2001:DB8::5", "2001:db8::5"},
		{"[2001:db8::5]", "2001:db8::5"},
		{"::ffff:10.0.0.5", "10.0.0.5"},
	} {
		if got, err := stationdir.ParseConsoleHost(c.in); err != nil || got != c.want {
			t.Errorf("ParseConsoleHost(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", "empty"},
		{"hotline.example:8443", "without a port"},
		{"[::1]:8443", "without a port"},
		{"*.example.org", "wildcards"},
		{"a..b", "empty label"},
		{".example", "empty label"},
		{"-bad.example", "hyphen"},
		{"bad_name.example", `holds '_'`},
		{"中国.example", "xn--"},
		{"hotline.example/console", `holds '/'`},
		{"1.2.3", "IPv4"},
		{"evil.0x7f", "IPv4"},
		{"10.0.0.256", "IPv4"},
		{strings.Repeat("a", 64) + ".example", "longer than 63"},
		{strings.Repeat("abcdefghi.", 26) + "org", "longer than 253"},
		{".", "not a host name"},
	} {
		if got, err := stationdir.ParseConsoleHost(c.in); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "console_hosts") {
			t.Errorf("ParseConsoleHost(%q) = %q, %v; want an error naming console_hosts and %q", c.in, got, err, c.want)
		}
	}
}

// FuzzParseConsoleHost: any entry is taken or refused without a panic,
// and what is taken is a plain name or address that reads back as
// itself.
func FuzzParseConsoleHost(f *testing.F) {
	for _, s := range []string{"hotline.example", "10.0.0.5", "[::1]", "::ffff:1.2.3.4", "a:1", "*.x", "1.2.3", "0x10", "A.B.", "xn--a", "fe80::1%eth0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := stationdir.ParseConsoleHost(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "console_hosts") {
				t.Fatalf("%q: the error does not name the setting: %v", s, err)
			}
			return
		}
		if again, err := stationdir.ParseConsoleHost(n); err != nil || again != n {
			t.Fatalf("%q → %q → %q, %v", s, n, again, err)
		}
		if ip := net.ParseIP(n); ip != nil {
			if ip.String() != n {
				t.Fatalf("%q → %q, not the canonical form of %v", s, n, ip)
			}
			return
		}
		if n == "" || len(n) > 253 || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" || strings.HasSuffix(n, ".") {
			t.Fatalf("%q → %q, not a plain lower-case host name", s, n)
		}
	})
}

// writeCert writes a self-signed certificate for names and its key.
func writeCert(t *testing.T, dir string, dns []string, ips []net.IP) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: dns, IPAddresses: ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, keyFile := filepath.Join(dir, "console.pem"), filepath.Join(dir, "console.key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, keyFile
}

// TestConsoleNames: the console answers to console_hosts, the listen
// address and the certificate's names, wildcards left out; a bad entry
// in console_hosts stops LoadConfig with the entry and what is wrong.
func TestConsoleNames(t *testing.T) {
	dir := initDir(t, "USA")
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(string(data), "{", `{"console_hosts": ["hotline.watch.example", "bad_name"],`, 1))
	if _, err := stationdir.LoadConfig(dir); err == nil || !strings.Contains(err.Error(), `console_hosts "bad_name"`) || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("a bad console_hosts entry: %v", err)
	}
	write(strings.Replace(string(data), "{", `{"console_hosts": "hotline.watch.example",`, 1))
	if _, err := stationdir.LoadConfig(dir); err == nil || !strings.Contains(err.Error(), "console_hosts") {
		t.Errorf("console_hosts not a list: %v", err)
	}
	write(strings.Replace(string(data), "{", `{"console_hosts": ["Hotline.Watch.Example", "10.0.0.9"],`, 1))
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := cfg.ConsoleNames(dir)
	if want := []string{"10.0.0.9", "127.0.0.1", "hotline.watch.example"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("ConsoleNames = %q, %v; want %q", names, err, want)
	}
	// Over HTTPS on every address: the certificate's names, not 0.0.0.0.
	cert, key := writeCert(t, t.TempDir(), []string{"usa-hotline", "*.watch.example"}, []net.IP{net.ParseIP("10.0.0.5")})
	cfg.APIListen, cfg.APITLSCert, cfg.APITLSKey = "0.0.0.0:8443", cert, key
	names, err = cfg.ConsoleNames(dir)
	if want := []string{"10.0.0.5", "10.0.0.9", "hotline.watch.example", "usa-hotline"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("ConsoleNames over HTTPS = %q, %v; want %q", names, err, want)
	}
}
