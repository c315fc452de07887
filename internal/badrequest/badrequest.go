// Package badrequest marks an error as the asker's, not the system's: a
// request that was wrong (a malformed field, an unknown channel, a name
// taken) rather than a station that failed. The API answers such an error
// with 400 and the command line prints it without a stack of causes.
package badrequest

import (
	"errors"
	"fmt"
	"strings"
)

// Err marks an operator error (as opposed to a station failure).
var Err = errors.New("bad request")

// New is an operator error with the given message.
func New(format string, args ...any) error {
	return fmt.Errorf("%w: %s", Err, fmt.Sprintf(format, args...))
}

// Wrap marks err as the operator's error.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", Err, err)
}

// Is reports whether err is an operator error.
func Is(err error) bool { return errors.Is(err, Err) }

// Message is err's text without the "bad request: " mark.
func Message(err error) string {
	return strings.TrimPrefix(err.Error(), Err.Error()+": ")
}
