package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for localhost and 127.0.0.1
// and its key, as a party's own certificate authority or an operator with
// openssl would, and returns their paths and the certificate.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// startRun starts hotline run and waits for api.addr; it returns the
// bound address and a function that stops the process.
func startRun(t *testing.T, dir string) (string, func()) {
	t.Helper()
	cmd := exec.Command(binary, "run", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if addr, err := os.ReadFile(filepath.Join(dir, "api.addr")); err == nil {
			return strings.TrimSpace(string(addr)), stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("hotline run did not write api.addr: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func configOf(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestAPIHTTPS: with a certificate and key, hotline run serves the API and
// the console over HTTPS, and the command line speaks HTTPS to it,
// pinned to the certificate; plain HTTP is refused. Without them the API
// listens on loopback only: a non-loopback address is refused at init,
// by api tls --off, and by hotline run, with an error saying what to do.
func TestAPIHTTPS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, tmp, "usa-api")
	otherCert, otherKey, _ := selfSigned(t, tmp, "other")

	// No HTTPS, not loopback: refused, nothing left behind.
	bare := filepath.Join(tmp, "bare")
	args := []string{"init", "--dir", bare, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0", "--api-listen", "0.0.0.0:8443"}
	checkFailed(t, args, hotline(t, args...), "the API listen address is not loopback", `"0.0.0.0:8443"`, "hotline api tls --cert FILE --key FILE")
	if _, err := os.Stat(bare); !os.IsNotExist(err) {
		t.Errorf("a refused init left %s behind", bare)
	}
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--tls-cert", certFile}, []string{"both a certificate and a key"}},
		{[]string{"--tls-cert", certFile, "--tls-key", otherKey}, []string{"API certificate", "private key does not match public key"}},
		{[]string{"--tls-cert", filepath.Join(tmp, "missing.pem"), "--tls-key", keyFile}, []string{"missing.pem", "no such file"}},
	} {
		args := append([]string{"init", "--dir", bare, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0"}, c.args...)
		checkFailed(t, args, hotline(t, args...), c.wants...)
	}

	// With a certificate, any address; api tls --off then refuses it.
	wide := filepath.Join(tmp, "wide")
	mustRun(t, "init", "--dir", wide, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0", "--api-listen", "0.0.0.0:0", "--tls-cert", certFile, "--tls-key", keyFile)
	if cfg := configOf(t, wide); cfg["api_tls_cert"] != certFile || cfg["api_tls_key"] != keyFile {
		t.Errorf("config.json after init with a certificate: %v", cfg)
	}
	args = []string{"api", "tls", "--dir", wide, "--off"}
	checkFailed(t, args, hotline(t, args...), "not loopback")
	if cfg := configOf(t, wide); cfg["api_tls_cert"] != certFile {
		t.Errorf("a refused api tls --off changed config.json: %v", cfg)
	}

	// A station on loopback, plain at first, then HTTPS with api tls.
	dir := filepath.Join(tmp, "usa")
	mustRun(t, "init", "--dir", dir, "--name", "USA", "--party", "USA", "--peer-listen", "127.0.0.1:0")
	args = []string{"api", "tls", "--dir", dir, "--cert", certFile, "--key", otherKey}
	checkFailed(t, args, hotline(t, args...), "private key does not match public key")
	args = []string{"api", "tls", "--dir", dir, "--cert", certFile}
	checkFailed(t, args, hotline(t, args...), "--cert and --key, or --off")
	if out := mustRun(t, "api", "tls", "--dir", dir, "--cert", certFile, "--key", keyFile); !strings.Contains(out, "over HTTPS") {
		t.Errorf("api tls: %q", out)
	}
	addr, stop := startRun(t, dir)
	defer stop()
	// While it runs, the setting cannot change under it.
	args = []string{"api", "tls", "--dir", dir, "--cert", otherCert, "--key", otherKey}
	checkFailed(t, args, hotline(t, args...), "stop hotline run first")

	// A browser that trusts the certificate gets the console over HTTPS.
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + addr + "/console/login")
	if err != nil {
		t.Fatalf("console over HTTPS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="login-form"`) || resp.Header.Get("Strict-Transport-Security") == "" || resp.TLS == nil {
		t.Errorf("console over HTTPS: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	// One that does not, does not.
	if _, err := (&http.Client{Timeout: 10 * time.Second}).Get("https://" + addr + "/console/login"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("HTTPS with an unknown certificate: %v", err)
	}
	// Plain HTTP is not served.
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/console/login"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "HTTPS") {
			t.Errorf("plain HTTP to the HTTPS listener: %d %s", resp.StatusCode, b)
		}
	}
	// The command line goes through the running station's API, over HTTPS.
	var st struct{ Station string }
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--dir", dir, "--json")), &st); err != nil || st.Station != "USA" {
		t.Errorf("status over HTTPS: %+v %v", st, err)
	}
	r := hotlineIn(t, "correct horse battery\n", "operator", "add", "--dir", dir, "--name", "ann", "--role", "duty")
	if r.code != 0 {
		t.Errorf("operator add over HTTPS: %q", r.stderr)
	}
	stop()

	// hotline run refuses a non-loopback address without HTTPS.
	cfg := configOf(t, dir)
	delete(cfg, "api_tls_cert")
	delete(cfg, "api_tls_key")
	cfg["api_listen"] = "0.0.0.0:0"
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	args = []string{"run", "--dir", dir}
	checkFailed(t, args, hotline(t, args...), "the API listen address is not loopback", "hotline api tls")
}
