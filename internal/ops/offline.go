package ops

import (
	"bytes"
	"encoding/json"
	"time"

	"hotline/internal/badrequest"
	"hotline/internal/wire"
)

// OfflineFormat names the offline bundle format (docs/PROTOCOL.md,
// "Offline path").
const OfflineFormat = "hotline-offline/v1"

// MaxOffline bounds the size of an offline bundle file.
const MaxOffline = 256 << 20

// OfflineBundle carries, by hand, what a live connection would: the
// sender's entries the receiver has not receipted, and the sender's
// receipts of the receiver's logs, as protocol frames. Every entry,
// checkpoint and receipt in it is signed.
type OfflineBundle struct {
	Format    string    `json:"format"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	CreatedAt time.Time `json:"created_at"`
	Frames    [][]byte  `json:"frames"` // base64 in JSON
}

// ImportView reports an import.
type ImportView struct {
	From    string `json:"from"`
	Frames  int    `json:"frames"`
	Entries int    `json:"entries"` // new entries taken; 0 when imported before
	Refused int    `json:"refused"`
}

// ParseOffline reads an offline bundle strictly.
func ParseOffline(data []byte) (*OfflineBundle, error) {
	if len(data) > MaxOffline {
		return nil, badrequest.New("offline bundle has %d bytes, limit %d", len(data), MaxOffline)
	}
	var b OfflineBundle
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&b); err != nil {
		return nil, badrequest.New("offline bundle: %v", err)
	}
	if d.More() {
		return nil, badrequest.New("offline bundle: data after the JSON object")
	}
	switch {
	case b.Format != OfflineFormat:
		return nil, badrequest.New("offline bundle: format %q, want %q", b.Format, OfflineFormat)
	case b.From == "" || b.To == "":
		return nil, badrequest.New("offline bundle: from and to must be named")
	}
	for i, f := range b.Frames {
		if len(f) == 0 || len(f) > wire.MaxFrame {
			return nil, badrequest.New("offline bundle: frame %d has %d bytes", i+1, len(f))
		}
	}
	return &b, nil
}
