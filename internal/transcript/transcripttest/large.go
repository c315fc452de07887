// Package transcripttest writes large, valid transcript bundles, for
// benchmarks and tests of the verifier: two stations, a channel agreed
// between them, and as many entries in each log as asked, each sealed
// and signed as a station seals and signs, with receipts (C2SP
// cosignature/v1, with held lines) and the exporter's statement. The
// JSON is written as it is made, so that a bundle of millions of entries
// never sits in memory.
package transcripttest

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"hotline/internal/channel"
	"hotline/internal/codebook"
	"hotline/internal/envelope"
	"hotline/internal/identity"
	"hotline/internal/transcript"
)

// Large is a bundle being written.
type Large struct {
	Channel  string
	Exporter *identity.Keys
	Peer     *identity.Keys
	cards    [2]*identity.Card
	charter  []byte
	now      time.Time
}

// NewLarge makes the two stations and agrees the channel between them.
func NewLarge(now time.Time) (*Large, error) {
	l := &Large{Channel: "usa-chn-large", now: now.UTC()}
	var err error
	for i, name := range []string{"USA", "CHN"} {
		k, err := identity.NewKeys(name)
		if err != nil {
			return nil, err
		}
		if l.cards[i], err = identity.NewCard(k, name, []string{name + ".example:7443"}, now); err != nil {
			return nil, err
		}
		if i == 0 {
			l.Exporter = k
		} else {
			l.Peer = k
		}
	}
	ch := &channel.Charter{ID: l.Channel, Level: channel.Staff, Proposer: "USA", Acceptor: "CHN", Codebook: codebook.Default().Ref()}
	if err = channel.Propose(ch, l.Exporter.Signer()); err != nil {
		return nil, err
	}
	v, err := l.cards[0].Verifier()
	if err != nil {
		return nil, err
	}
	if err = channel.Accept(ch, v, l.Peer.Signer()); err != nil {
		return nil, err
	}
	l.charter = ch.Text
	return l, nil
}

// Write writes a bundle whose logs hold n entries each: the exporter's
// receipted up to n-1, the peer's covered by its checkpoint. Each log's
// entries are made into a file in dir first, so that the checkpoints,
// which come before them, can name their roots.
func (l *Large) Write(w io.Writer, n int, dir string) error {
	if n < 2 {
		return fmt.Errorf("a large bundle has at least 2 entries a log, not %d", n)
	}
	keys := [2]*identity.Keys{l.Exporter, l.Peer}
	var logs [2]*logOut
	for i := range logs {
		f, err := os.CreateTemp(dir, "entries-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		lo := &logOut{tree: transcript.NewTree(), roots: map[int][]byte{}, file: f}
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := l.entries(i, n, keys, func(idx int, raw []byte) error {
			lo.tree.Append(raw)
			if idx == n-1 || idx == n {
				lo.roots[idx] = lo.tree.Root()
			}
			if idx > 1 {
				bw.WriteString(",")
			}
			bw.WriteString("\n        \"")
			bw.WriteString(base64.StdEncoding.EncodeToString(raw))
			_, err := bw.WriteString("\"")
			return err
		}); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		logs[i] = lo
	}
	e := transcript.Export{Channel: l.Channel, By: "USA", At: l.now.Add(time.Hour)}
	for i, name := range []string{"USA", "CHN"} {
		e.Logs = append(e.Logs, transcript.LogHead{Author: name, Size: uint64(n), Root: logs[i].roots[n]})
	}
	statement, err := transcript.SignExport(e, l.Exporter.Signer())
	if err != nil {
		return err
	}
	// USA's log, receipted by CHN at n-1, when CHN held all of its own;
	// CHN's, checkpointed at n by CHN, then holding n-1 of USA's, and
	// cosigned by USA at export.
	usaCP, err := l.receipt(0, transcript.Checkpoint{Origin: transcript.Origin(l.Channel, "USA"), Size: uint64(n - 1), Root: logs[0].roots[n-1],
		Held: &transcript.Held{Size: uint64(n), Root: logs[1].roots[n]}})
	if err != nil {
		return err
	}
	chnCP, err := l.receipt(1, transcript.Checkpoint{Origin: transcript.Origin(l.Channel, "CHN"), Size: uint64(n), Root: logs[1].roots[n],
		Held: &transcript.Held{Size: uint64(n - 1), Root: logs[0].roots[n-1]}})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	fmt.Fprintf(bw, "{\n  \"format\": %s,\n  \"channel\": %s,\n  \"exported_by\": \"USA\",\n  \"exported_at\": %s,\n  \"export\": %s,\n  \"cards\": [%s, %s],\n  \"charter\": %s,\n  \"logs\": [",
		str(transcript.BundleFormat), str(l.Channel), str(e.At.Format(time.RFC3339Nano)), str(statement), str(string(l.cards[0].Text)), str(string(l.cards[1].Text)), str(string(l.charter)))
	for i, name := range []string{"USA", "CHN"} {
		cp := usaCP
		if i == 1 {
			cp = chnCP
			bw.WriteString(",")
		}
		fmt.Fprintf(bw, "\n    {\n      \"author\": %q,\n      \"checkpoint\": %s,\n      \"entries\": [", name, str(cp))
		if _, err := io.Copy(bw, logs[i].file); err != nil {
			return err
		}
		bw.WriteString("\n      ]\n    }")
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}

type logOut struct {
	tree  *transcript.Tree
	roots map[int][]byte
	file  *os.File
}

// receipt signs c as author i and cosigns it as the other station, an
// hour after the entries.
func (l *Large) receipt(i int, c transcript.Checkpoint) (string, error) {
	keys := [2]*identity.Keys{l.Exporter, l.Peer}
	signed, err := transcript.SignCheckpoint(c, keys[i].Signer())
	if err != nil {
		return "", err
	}
	v, err := l.cards[i].Verifier()
	if err != nil {
		return "", err
	}
	o := keys[1-i]
	r, err := transcript.Cosign(signed, v, transcript.NewCosigner(o.Name, o.Sign, func() time.Time { return l.now.Add(time.Hour) }))
	return string(r), err
}

// entries makes log i's n entries, in order, and gives each to f. They
// are sealed (a key epoch every 10,000 entries, as a station seals) and
// signed on every core.
func (l *Large) entries(i, n int, keys [2]*identity.Keys, f func(idx int, raw []byte) error) error {
	author, peer := keys[i], keys[1-i]
	to, err := l.cards[1-i].HPKEKey()
	if err != nil {
		return err
	}
	var ep *envelope.Epoch
	seal := func(idx int) ([]byte, error) {
		h := envelope.Header{Channel: l.Channel, Author: author.Name, Recipient: peer.Name, Index: uint64(idx),
			Precedence: envelope.Routine, Kind: envelope.Text, Time: l.now.Add(time.Duration(idx) * time.Millisecond)}
		body := []byte(fmt.Sprintf(`{"text":"message %d of %s: position report, course 045, speed 12 knots, no change"}`, idx, author.Name))
		if idx == 1 {
			h.Kind, h.Precedence = envelope.Agreement, envelope.Priority
			body, _ = json.Marshal(map[string]string{"charter": string(l.charter)})
		}
		return ep.Seal(h, body, (idx-1)%transcriptEpoch == 0, ed25519.PrivateKey(author.Sign))
	}
	workers := runtime.GOMAXPROCS(0)
	const chunk = 512
	for start := 1; start <= n; {
		if (start-1)%transcriptEpoch == 0 {
			if ep, err = envelope.NewEpoch(to, nil); err != nil {
				return err
			}
		}
		// A batch never spans two epochs.
		end := min(n, start+chunk*workers-1, ((start-1)/transcriptEpoch+1)*transcriptEpoch)
		res := make([][]byte, end-start+1)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for idx := start + w; idx <= end; idx += workers {
					raw, err := seal(idx)
					if err != nil {
						errs[w] = err
						return
					}
					res[idx-start] = raw
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		for k, raw := range res {
			if err := f(start+k, raw); err != nil {
				return err
			}
		}
		start = end + 1
	}
	return nil
}

const transcriptEpoch = 10000
