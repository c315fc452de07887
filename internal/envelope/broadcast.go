package envelope

import (
	"fmt"
	"strings"
)

// BroadcastIDLen is the length of a broadcast's id: "b-" and 16 lowercase
// hex digits.
const BroadcastIDLen = 18

// CheckBroadcast checks the id that links the entries of one act sent to
// several parties (docs/PROTOCOL.md, "Sent to several parties"): each
// party's copy is its own entry on its own channel, sealed to it alone,
// and carries this id in its body.
func CheckBroadcast(id string) error {
	if len(id) != BroadcastIDLen || !strings.HasPrefix(id, "b-") {
		return fmt.Errorf("broadcast id %.40q: want b- and 16 hex digits", id)
	}
	for _, c := range id[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("broadcast id %q: want b- and 16 lowercase hex digits", id)
		}
	}
	return nil
}
