package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"hotline/internal/operator"
	"hotline/internal/ops"
	"hotline/internal/stationdir"
)

// Client calls a running station's API. It does every operation of the
// table ops.All (Do), and so implements ops.Ops.
type Client struct {
	ops.Ops        // each method through Do
	Base    string // http://host:port
	Token   string
	HTTP    *http.Client
}

var _ ops.Doer = (*Client)(nil)

// Dial returns a client of the API at base (http://host:port or https://…).
func Dial(base, token string, hc *http.Client) *Client {
	c := &Client{Base: base, Token: token, HTTP: hc}
	c.Ops = ops.Through(c)
	return c
}

// AddrFile is where hotline run writes the API's bound address.
const AddrFile = "api.addr"

// NewClient returns a client for the station in dir, which must be running.
func NewClient(dir string) (*Client, error) { return NewClientVia(dir, nil) }

// NewClientVia is NewClient dialling the API with dial (nil for the
// default): a station run in another network namespace is reached by
// dialling from inside it.
func NewClientVia(dir string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*Client, error) {
	tok, err := stationdir.ReadToken(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := stationdir.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	// The address hotline run bound, else the configured one; whether to
	// speak HTTPS to it is in config.json.
	addr, err := os.ReadFile(filepath.Join(dir, AddrFile))
	if err != nil {
		addr = []byte(cfg.APIListen)
	}
	// Keep connections for many concurrent requests (the default keeps 2,
	// and opens a new connection for every other one).
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute, DialContext: dial}
	scheme := "http://"
	if cfg.APIHTTPS() {
		if tr.TLSClientConfig, err = pinned(cfg.APICertFile(dir)); err != nil {
			return nil, err
		}
		scheme = "https://"
	}
	return Dial(scheme+strings.TrimSpace(string(addr)), tok, &http.Client{Transport: tr}), nil
}

// pinned returns a TLS configuration that accepts exactly the certificate
// in the station's own certificate file: the command line runs on the
// station's machine and reads the file the API serves, so it needs no
// certificate authority, and the address it dials (loopback, often) need
// not be a name in the certificate.
func pinned(certFile string) (*tls.Config, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("API certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("API certificate %s: no PEM certificate in it", certFile)
	}
	want := block.Bytes
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, against the pinned certificate
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return fmt.Errorf("the station's API did not present the certificate in %s", certFile)
			}
			return nil
		},
	}, nil
}

// Error is an error the station returned.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if raw, ok := in.([]byte); ok {
		body = bytes.NewReader(raw)
	} else if r, ok := in.(io.Reader); ok {
		body = r // sent as it is read, never held whole
	} else if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("station API at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 2<<30))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			return &Error{Status: resp.StatusCode, Message: eb.Error}
		}
		return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("station API: %s", resp.Status)}
	}
	if out == nil {
		return nil
	}
	if p, ok := out.(*[]byte); ok {
		*p = data
		return nil
	}
	return json.Unmarshal(data, out)
}

func get[T any](ctx context.Context, c *Client, path string) (T, error) {
	var v T
	err := c.do(ctx, http.MethodGet, path, nil, &v)
	return v, err
}

func post[T any](ctx context.Context, c *Client, path string, in any) (*T, error) {
	var v T
	if err := c.do(ctx, http.MethodPost, path, in, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Operators lists the station's console operators.
func (c *Client) Operators(ctx context.Context) ([]operator.View, error) {
	return get[[]operator.View](ctx, c, "/api/v1/operators")
}

// AddOperator adds a console operator.
func (c *Client) AddOperator(ctx context.Context, r operator.AddRequest) (*operator.View, error) {
	return post[operator.View](ctx, c, "/api/v1/operators", r)
}

// RemoveOperator removes a console operator and ends their sessions.
func (c *Client) RemoveOperator(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/operators/"+url.PathEscape(name), nil, nil)
}

// UnlockOperator ends the wait of an operator's name after failed logins.
func (c *Client) UnlockOperator(ctx context.Context, name string) error {
	_, err := post[struct{}](ctx, c, "/api/v1/operators/"+url.PathEscape(name)+"/unlock", nil)
	return err
}

// Event is one server-sent event.
type Event struct {
	What    string `json:"what"`
	Channel string `json:"channel"`
	Entry   string `json:"entry"`
}

// Events streams events until ctx is done or the connection drops. The
// first event, What "connected", says the subscription is in place.
func (c *Client) Events(ctx context.Context, f func(Event)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/api/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	// The client's transport (its dialer, its pinned certificate), with
	// no timeout: the stream lasts.
	hc := &http.Client{Transport: c.HTTP.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("events: %s", resp.Status)
	}
	f(Event{What: "connected"})
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev Event
			if json.Unmarshal([]byte(data), &ev) == nil {
				f(ev)
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// WaitReady polls until the API answers or the timeout passes. It is for
// starting a station process and then talking to it.
func (c *Client) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.Status(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
