// Package attack holds the attack suite: each test attacks real stations
// (real TLS on loopback, real SQLite stores, a real relay where one is
// needed) the way an adversary on the network, a peer gone bad or a relay
// operator could, and checks four things: the attack is refused with a
// clear reason, the station's refusal counter for that reason moved (the
// reasons of StatusView.Refused, exported on /metrics as
// hotline_refused_total), operators are told where they should be (an
// alert, an alarm for a tamper), and nothing changed: the store's pinned
// cards, channels, entries and logs compare equal before and after.
//
// The suite is the table "Attacks" in docs/RELIABILITY.md; attacks tested
// closer to their code (the impostor in internal/station, the relay that
// lies in every way in internal/station, a relay's own refusals) are
// listed there with theirs. The package has no code outside its tests.
package attack
