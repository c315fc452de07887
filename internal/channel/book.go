package channel

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrBook marks a charter naming a codebook this station does not have, or
// a reference that is not one.
var ErrBook = errors.New("codebook does not match")

// BookRef names the codebook of standard phrases a charter agrees on, by
// version and content hash ("name/version sha256:hex"). The charter holds
// only the reference; what the codebook says is for the packages that
// decode bodies with it (internal/codebook, internal/deconflict).
type BookRef struct {
	Version string
	Hash    string
}

func (r BookRef) String() string { return r.Version + " " + r.Hash }

var (
	bookVersionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}/[1-9][0-9]{0,3}(\+[a-z0-9][a-z0-9-]{0,31}/[1-9][0-9]{0,3}){0,7}$`)
	bookHashRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ValidBookVersion reports whether v is a codebook version: a name and a
// number, with up to seven extensions each "+name/number".
func ValidBookVersion(v string) bool { return bookVersionRE.MatchString(v) }

// ParseBookRef reads "version sha256:hex", the form String writes.
func ParseBookRef(s string) (BookRef, error) {
	v, h, ok := strings.Cut(s, " ")
	if !ok || !bookVersionRE.MatchString(v) || !bookHashRE.MatchString(h) {
		return BookRef{}, fmt.Errorf("%w: reference %q is not \"name/version sha256:hex\"", ErrBook, s)
	}
	return BookRef{v, h}, nil
}

// A Book is a codebook as a charter sees it: what it is called. The core
// matches charters to the books a station has by this alone.
type Book interface {
	Ref() BookRef
}

// FindBook returns the book the charter names from those this station
// has; a charter naming any other is refused (ErrBook).
func (c *Charter) FindBook(have ...Book) (Book, error) {
	var names []string
	for _, b := range have {
		if b.Ref() == c.Codebook {
			return b, nil
		}
		names = append(names, b.Ref().String())
	}
	return nil, fmt.Errorf("%w: channel %s names codebook %s, which this station does not have (it has %s)",
		ErrBook, c.ID, c.Codebook, strings.Join(names, ", "))
}
