// Package wire holds the limits every end of a link agrees on, apart from
// what the frames mean: the station's core, the direct path and the relay
// all read them here, so that the relay needs nothing that can parse an
// envelope or a frame to know how large one may be.
package wire

// MaxFrame is the largest frame a station or a relay reads, in bytes.
const MaxFrame = 4 << 20
