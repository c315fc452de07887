// Package mediawire is the layout of the UDP packets of calls' media
// that are not WebRTC's: a station's packets to and from a relay's media
// relay (docs/PROTOCOL.md, "Relay", media relay) and the direct-path
// probes between two stations. It has no dependencies, so that the relay
// and the media engine share it without depending on each other.
//
//	station → relay: 0x0E 'H' 'R' | token (16 bytes) | to (32-byte key; all zero: a keepalive) | payload
//	relay → station: 0x0E 'H' 'R' | from (32-byte key; all zero: a keepalive's echo) | payload
//	probe:           0x0E 'H' 'P' | flags (bit 0: "I hear you directly") | counter (8 bytes) | mac (16 bytes)
//
// A probe's mac is the first 16 bytes of HMAC-SHA-256, under a key both
// stations derive from their call's signed descriptions (ProbeKey), of
// the 12 bytes before it; its counter only grows.
//
// The first byte, 14, is outside the ranges of STUN (0–3), DTLS (20–63),
// TURN channels (64–79) and RTP/RTCP (128–191) (RFC 7983), so that a
// station's one media socket tells these from WebRTC's packets.
package mediawire

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
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

// ProbeLen is the length of a probe.
const ProbeLen = 4 + 8 + 16

// ProbeKey is the key of the probes between two stations in a call: from
// the two ICE passwords of the call's signed descriptions, which only
// the two stations know (the entries are sealed to each other).
func ProbeKey(pwdA, pwdB string) [32]byte {
	if pwdB < pwdA {
		pwdA, pwdB = pwdB, pwdA
	}
	return sha256.Sum256([]byte("hotline direct-path probe v1\x00" + pwdA + "\x00" + pwdB))
}

// Probe is a direct-path probe saying whether its sender hears the
// receiver directly, numbered counter, under key.
func Probe(hearYou bool, counter uint64, key [32]byte) []byte {
	p := make([]byte, 12, ProbeLen)
	copy(p, probeMagic[:])
	if hearYou {
		p[3] = 1
	}
	binary.BigEndian.PutUint64(p[4:], counter)
	m := hmac.New(sha256.New, key[:])
	m.Write(p)
	return m.Sum(p)[:ProbeLen]
}

// IsProbe tells a probe from anything else: whether it is genuine is
// for ParseProbe.
func IsProbe(p []byte) bool { return len(p) >= 3 && [3]byte(p[:3]) == probeMagic }

// ParseProbe reads a probe made under one of keys: ok false if it is not
// a probe, or under none of them.
func ParseProbe(p []byte, keys ...[32]byte) (hearsMe bool, counter uint64, ok bool) {
	if len(p) != ProbeLen || !IsProbe(p) || p[3]&^1 != 0 {
		return false, 0, false
	}
	for _, k := range keys {
		m := hmac.New(sha256.New, k[:])
		m.Write(p[:12])
		if hmac.Equal(m.Sum(nil)[:16], p[12:]) {
			return p[3]&1 != 0, binary.BigEndian.Uint64(p[4:12]), true
		}
	}
	return false, 0, false
}
