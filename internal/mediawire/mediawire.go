// Package mediawire is the layout of the UDP packets of calls' media
// that are not WebRTC's: a station's packets to and from a relay's media
// relay (docs/PROTOCOL.md, "Relay", media relay) and the direct-path
// probes between two stations. It has no dependencies, so that the relay
// and the media engine share it without depending on each other.
//
//	station → relay: 0x0E 'H' 'R' | token (16 bytes) | to (32-byte key; all zero: a keepalive) | payload
//	relay → station: 0x0E 'H' 'R' | from (32-byte key; all zero: a keepalive's echo) | payload
//	probe:           0x0E 'H' 'P' | flags (bit 0: "I hear you directly")
//
// The first byte, 14, is outside the ranges of STUN (0–3), DTLS (20–63),
// TURN channels (64–79) and RTP/RTCP (128–191) (RFC 7983), so that a
// station's one media socket tells these from WebRTC's packets.
package mediawire

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// TokenSize is the length of a media token.
const TokenSize = 16

// MaxPayload is the most bytes of payload one relayed packet carries.
const MaxPayload = 1600

// ErrPacket marks a packet that is not of these layouts.
var ErrPacket = errors.New("malformed media packet")

var (
	relayMagic = [3]byte{0x0E, 'H', 'R'}
	probeMagic = [3]byte{0x0E, 'H', 'P'}
)

const (
	toLen   = len(relayMagic) + TokenSize + ed25519.PublicKeySize
	fromLen = len(relayMagic) + ed25519.PublicKeySize
)

var zeroKey = make(ed25519.PublicKey, ed25519.PublicKeySize)

// IsRelay tells a relay packet from anything else a media socket receives.
func IsRelay(p []byte) bool {
	return len(p) >= len(relayMagic) && [3]byte(p[:3]) == relayMagic
}

// AppendTo appends to dst a packet for the relay: payload, from the
// holder of token, for the station whose key is to (nil for a
// keepalive).
func AppendTo(dst []byte, token [TokenSize]byte, to ed25519.PublicKey, payload []byte) []byte {
	dst = append(dst, relayMagic[:]...)
	dst = append(dst, token[:]...)
	if to == nil {
		to = zeroKey
	}
	dst = append(dst, to...)
	return append(dst, payload...)
}

// AppendFrom appends to dst a packet from the relay: payload, from the
// station whose key is from (nil for a keepalive's echo).
func AppendFrom(dst []byte, from ed25519.PublicKey, payload []byte) []byte {
	dst = append(dst, relayMagic[:]...)
	if from == nil {
		from = zeroKey
	}
	dst = append(dst, from...)
	return append(dst, payload...)
}

// ParseFrom reads a packet from the relay: the key of the station that
// sent it (nil for the echo of a keepalive) and its payload, which
// aliases p.
func ParseFrom(p []byte) (from ed25519.PublicKey, payload []byte, err error) {
	if !IsRelay(p) || len(p) < fromLen {
		return nil, nil, fmt.Errorf("%w: a relay packet of %d bytes", ErrPacket, len(p))
	}
	if len(p)-fromLen > MaxPayload {
		return nil, nil, fmt.Errorf("%w: a payload of %d bytes, limit %d", ErrPacket, len(p)-fromLen, MaxPayload)
	}
	k := ed25519.PublicKey(p[3:fromLen])
	if k.Equal(zeroKey) {
		if len(p) != fromLen {
			return nil, nil, fmt.Errorf("%w: a keepalive echo with a payload", ErrPacket)
		}
		return nil, nil, nil
	}
	return k, p[fromLen:], nil
}

// ParseTo reads a station's packet to the relay: the token, the
// recipient's key (nil for a keepalive) and the payload, which aliases p.
func ParseTo(p []byte) (token [TokenSize]byte, to ed25519.PublicKey, payload []byte, err error) {
	if !IsRelay(p) || len(p) < toLen {
		return token, nil, nil, fmt.Errorf("%w: a relay packet of %d bytes", ErrPacket, len(p))
	}
	if len(p)-toLen > MaxPayload {
		return token, nil, nil, fmt.Errorf("%w: a payload of %d bytes, limit %d", ErrPacket, len(p)-toLen, MaxPayload)
	}
	copy(token[:], p[3:3+TokenSize])
	to = ed25519.PublicKey(p[3+TokenSize : toLen])
	if to.Equal(zeroKey) {
		if len(p) != toLen {
			return token, nil, nil, fmt.Errorf("%w: a keepalive with a payload", ErrPacket)
		}
		to = nil
	}
	return token, to, p[toLen:], nil
}

// Probe is a direct-path probe saying whether its sender hears the
// receiver directly.
func Probe(hearYou bool) []byte {
	p := []byte{probeMagic[0], probeMagic[1], probeMagic[2], 0}
	if hearYou {
		p[3] = 1
	}
	return p
}

// ParseProbe reads a probe: ok false if p is not one.
func ParseProbe(p []byte) (hearsMe, ok bool) {
	if len(p) != 4 || [3]byte(p[:3]) != probeMagic {
		return false, false
	}
	return p[3]&1 != 0, true
}
