package stationdir

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"hotline/internal/home"
	"net"
	"path/filepath"
)

// The local API and the console are served over HTTPS when config.json
// names a certificate and key (api_tls_cert, api_tls_key: PEM files, set
// by hotline init --tls-cert/--tls-key or hotline api tls). Without them
// they are plain HTTP, and then only on a loopback address: session
// cookies and the API token must not cross a network in the clear.

// ErrAPIListen marks an API listen address refused for want of HTTPS.
var ErrAPIListen = errors.New("the API listen address is not loopback")

// CheckAPIListen refuses a listen address other than loopback (127.0.0.0/8,
// ::1, localhost) unless the API is served over HTTPS.
func CheckAPIListen(addr string, https bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("--api-listen %q is not HOST:PORT", addr)
	}
	if https || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q would serve the API and the console in the clear to other machines; give a certificate and key (hotline api tls --cert FILE --key FILE, or hotline init --tls-cert FILE --tls-key FILE), or listen on 127.0.0.1", ErrAPIListen, addr)
}

// APIHTTPS reports whether the API is served over HTTPS.
func (c *Config) APIHTTPS() bool { return c.APITLSCert != "" }

// APICertificate loads the API's certificate and key; relative paths are
// relative to the station directory.
func (c *Config) APICertificate(dir string) (tls.Certificate, error) {
	return loadKeyPair(abs(dir, c.APITLSCert), abs(dir, c.APITLSKey))
}

// APICertFile is the path of the API's certificate file.
func (c *Config) APICertFile(dir string) string { return abs(dir, c.APITLSCert) }

func abs(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

func loadKeyPair(cert, key string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("API certificate %s and key %s: %w", cert, key, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("API certificate %s: %w", cert, err)
		}
	}
	return c, nil
}

// checkAPITLS checks a certificate and key given together (or neither),
// and the listen address against them. It returns the paths made
// absolute, as config.json keeps them.
func checkAPITLS(listen, cert, key string) (string, string, error) {
	if (cert == "") != (key == "") {
		return "", "", errors.New("HTTPS needs both a certificate and a key")
	}
	if cert != "" {
		var err error
		if cert, err = filepath.Abs(cert); err != nil {
			return "", "", err
		}
		if key, err = filepath.Abs(key); err != nil {
			return "", "", err
		}
		if _, err := loadKeyPair(cert, key); err != nil {
			return "", "", err
		}
	}
	return cert, key, CheckAPIListen(listen, cert != "")
}

// SetAPITLS sets (or, with both empty, removes) the API's certificate and
// key in a station's config.json. The station must not be running: the
// change takes effect when hotline run starts.
func SetAPITLS(dir, cert, key string) (*Config, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	lock, err := home.Lock(dir, ErrLocked)
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("%s: %w: stop hotline run first; HTTPS is set when it starts", dir, err)
	}
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if cfg.APITLSCert, cfg.APITLSKey, err = checkAPITLS(cfg.APIListen, cert, key); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return cfg, home.WriteFile(filepath.Join(dir, "config.json"), append(data, '\n'), 0o600)
}
