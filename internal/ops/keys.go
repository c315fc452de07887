package ops

import "time"

// KeyRequest rotates or revokes this station's keys.
type KeyRequest struct {
	// Reason is "rotate" (a planned change) or "revoke" (the current key
	// may be compromised).
	Reason string `json:"reason"`
	By     string `json:"by"`             // who ordered it
	Note   string `json:"note,omitempty"` // why, kept in this station's key history
}

// KeyView is one key of a station's chain.
type KeyView struct {
	Seq         int       `json:"seq"`
	Fingerprint string    `json:"fingerprint"`
	Reason      string    `json:"reason"` // how it replaced the key before: initial, rotate, revoke, replace
	At          time.Time `json:"at"`
	Revoked     bool      `json:"revoked"`
	Current     bool      `json:"current"`
	Detail      string    `json:"detail,omitempty"`
}

// RotationView reports a key change.
type RotationView struct {
	Station        string    `json:"station"`
	Reason         string    `json:"reason"`
	OldFingerprint string    `json:"old_fingerprint"`
	Fingerprint    string    `json:"fingerprint"`
	Channels       int       `json:"channels"` // logs that got a key entry
	Keys           []KeyView `json:"keys"`
}
