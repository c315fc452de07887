package stationdir

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
)

// The console answers only to the station's own names in a request's Host
// header, so that a page of another site that points its own name at the
// station (DNS rebinding) reaches nothing. Its names are the loopback
// ones, the API's listen address, the names in the API's certificate, and
// console_hosts in config.json.

// maxHostName bounds a DNS name, as DNS does.
const maxHostName = 253

// ParseConsoleHost checks one entry of console_hosts and returns it as the
// console compares it: a host name in lower case without a final dot, or
// an IP address in its canonical form. A port, a wildcard, or a name that
// browsers would read as an IPv4 address is refused.
func ParseConsoleHost(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("console_hosts: an entry is empty")
	}
	if len(s) > maxHostName+2 {
		return "", fmt.Errorf("console_hosts %.40q…: longer than %d bytes", s, maxHostName)
	}
	bare := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		bare = s[1 : len(s)-1]
	}
	if ip := net.ParseIP(bare); ip != nil {
		return ip.String(), nil
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return "", fmt.Errorf("console_hosts %q: give the name without a port: the console answers to its names on its own port", s)
	}
	name := strings.TrimSuffix(strings.ToLower(s), ".")
	if name == "" || len(name) > maxHostName {
		return "", fmt.Errorf("console_hosts %q: not a host name (1 to %d bytes)", s, maxHostName)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", fmt.Errorf("console_hosts %q: %v", s, err)
		}
	}
	if last := labels[len(labels)-1]; numeric(last) {
		return "", fmt.Errorf("console_hosts %q: browsers read a name ending in a number as an IPv4 address; give the address as a.b.c.d", s)
	}
	return name, nil
}

// checkLabel accepts a DNS label of letters, digits and hyphens, 1 to 63
// bytes, that neither starts nor ends with a hyphen.
func checkLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("an empty label (two dots, or a dot first)")
	case len(l) > 63:
		return fmt.Errorf("label %.20q… is longer than 63 bytes", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for _, c := range []byte(l) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			if c == '*' {
				return fmt.Errorf("wildcards are not taken: list each name")
			}
			return fmt.Errorf("label %q holds %q: use letters, digits and hyphens (a name in another script in its xn-- form)", l, c)
		}
	}
	return nil
}

// numeric reports whether a label is a number as browsers' URL parsers
// read one in a host: decimal digits, or 0x and hexadecimal digits.
func numeric(l string) bool {
	digits := "0123456789"
	if strings.HasPrefix(l, "0x") {
		l, digits = l[2:], "0123456789abcdef"
	}
	for _, c := range l {
		if !strings.ContainsRune(digits, c) {
			return false
		}
	}
	return true
}

// ConsoleHostNames returns console_hosts as ParseConsoleHost leaves each
// entry, or an error naming the first entry refused.
func (c *Config) ConsoleHostNames() ([]string, error) {
	var out []string
	for _, h := range c.ConsoleHosts {
		n, err := ParseConsoleHost(h)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// ConsoleNames returns every name the console answers to besides the
// loopback ones: console_hosts, the host of api_listen (unless it is an
// unspecified address such as 0.0.0.0), and the DNS names and IP
// addresses of the API's certificate. Wildcard names of the certificate
// are left out: a wildcard would also cover names the station does not
// control.
func (c *Config) ConsoleNames(dir string) ([]string, error) {
	names, err := c.ConsoleHostNames()
	if err != nil {
		return nil, err
	}
	if host, _, err := net.SplitHostPort(c.APIListen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			if n, err := ParseConsoleHost(host); err == nil {
				names = append(names, n)
			}
		}
	}
	if c.APIHTTPS() {
		cert, err := c.APICertificate(dir)
		if err != nil {
			return nil, err
		}
		names = append(names, certNames(cert.Leaf)...)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func certNames(leaf *x509.Certificate) []string {
	var out []string
	for _, d := range leaf.DNSNames {
		if n, err := ParseConsoleHost(d); err == nil {
			out = append(out, n)
		}
	}
	for _, ip := range leaf.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}
