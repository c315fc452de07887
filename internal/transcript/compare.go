package transcript

import (
	"bytes"
	"fmt"
	"slices"
)

// Comparison is what Compare found in two exports of one channel.
type Comparison struct {
	Channel   string          `json:"channel"`
	Exporters []string        `json:"exporters"` // of the first bundle, then the second
	Logs      []LogComparison `json:"logs"`
}

// LogComparison compares the two copies of one author's log.
type LogComparison struct {
	Author string `json:"author"`
	// Copies are the number of entries in the first bundle's copy and in
	// the second's.
	Copies [2]int `json:"copies"`
	// Longer is the exporter whose copy holds more entries, "" if both
	// hold the same; By is how many more.
	Longer string `json:"longer,omitempty"`
	By     int    `json:"by,omitempty"`
	// Summary says it in a sentence.
	Summary string `json:"summary"`
}

// Compare checks that two bundles of one channel, each already verified
// (Check, CheckStream), agree: the same parties, charter and keys; each
// log in one a prefix of its copy in the other; and neither export
// holding less of a log than its exporter receipted, held, or wrote. A
// rollback, a rewrite, or a split view (one history shown to the peer,
// another to an auditor) by either exporter fails here with what
// differs. It compares roots, not entries: equal roots at a size mean
// equal entries up to it.
func Compare(a, b *Checked) (*Comparison, error) {
	ra, rb := a.Report, b.Report
	if ra.Channel != rb.Channel {
		return nil, bad("the bundles are of channels %s and %s", ra.Channel, rb.Channel)
	}
	if !slices.Equal(sorted(ra.Parties), sorted(rb.Parties)) {
		return nil, bad("the bundles are between %v and between %v", ra.Parties, rb.Parties)
	}
	if noteText([]byte(a.charter)) != noteText([]byte(b.charter)) {
		return nil, bad("the bundles carry different charters for %s", ra.Channel)
	}
	c := &Comparison{Channel: ra.Channel, Exporters: []string{ra.ExportedBy, rb.ExportedBy}}
	for _, author := range ra.Parties {
		lc, err := compareLog(author, a, b)
		if err != nil {
			return nil, err
		}
		c.Logs = append(c.Logs, lc)
	}
	return c, nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// compareLog compares the two copies of author's log.
func compareLog(author string, a, b *Checked) (LogComparison, error) {
	ra, rb := a.Report, b.Report
	pa, pb := logReportOf(ra, author), logReportOf(rb, author)
	// Keys: one chain is a prefix of the other.
	n := min(len(pa.Fingerprints), len(pb.Fingerprints))
	if !slices.Equal(pa.Fingerprints[:n], pb.Fingerprints[:n]) {
		return LogComparison{}, bad("the bundles show different keys for %s: %v in %s's export, %v in %s's", author, pa.Fingerprints, ra.ExportedBy, pb.Fingerprints, rb.ExportedBy)
	}
	na, nb := pa.Entries, pb.Entries
	common := min(na, nb)
	if i := firstDifference(a.logs[author], b.logs[author], common); i > 0 {
		return LogComparison{}, bad("%s/%s/%d differs between %s's export and %s's: %s signed two different entries at that index, and one export shows each",
			ra.Channel, author, i, ra.ExportedBy, rb.ExportedBy, author)
	}
	if err := enough(author, ra, rb, pa, pb, na, nb); err != nil {
		return LogComparison{}, err
	}
	lc := LogComparison{Author: author, Copies: [2]int{na, nb}}
	switch d := na - nb; {
	case d == 0:
		lc.Summary = fmt.Sprintf("both exports hold the same %d entries", common)
	case d > 0:
		lc.Longer, lc.By = ra.ExportedBy, d
	default:
		lc.Longer, lc.By = rb.ExportedBy, -d
	}
	if lc.Longer != "" {
		lc.Summary = fmt.Sprintf("%s's export holds %d more (%s), the rest are the same %d entries", lc.Longer, lc.By, span(uint64(common+1), uint64(common+lc.By)), common)
		if lc.Longer == author {
			lc.Summary += fmt.Sprintf(": %s had not received them when it exported", otherName(ra.Parties, author))
		}
	}
	return lc, nil
}

// firstDifference is the first index at which two copies of a log, equal
// or not up to n entries, differ, or 0: the smallest size at which their
// roots differ, found by bisection.
func firstDifference(a, b *tlogHashes, n int) int {
	same := func(k int) bool {
		ra, err1 := a.root(int64(k))
		rb, err2 := b.root(int64(k))
		return err1 == nil && err2 == nil && bytes.Equal(ra, rb)
	}
	if n == 0 || same(n) {
		return 0
	}
	lo, hi := 0, n // same at lo, different at hi
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if same(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func logReportOf(r *Report, author string) *LogReport {
	for i := range r.Logs {
		if r.Logs[i].Author == author {
			return &r.Logs[i]
		}
	}
	return &LogReport{Author: author}
}

func otherName(parties []string, name string) string {
	for _, p := range parties {
		if p != name {
			return p
		}
	}
	return ""
}

// enough checks that neither export holds less of author's log than the
// other export's evidence says it must: na and nb are the entries of it
// in a and in b.
func enough(author string, a, b *Report, pa, pb *LogReport, na, nb int) error {
	if a.ExportedBy == b.ExportedBy {
		// Two exports by one station: the later holds at least what the
		// earlier did.
		if a.ExportedAt.After(b.ExportedAt) == (na < nb) && na != nb {
			return bad("%s's later export holds fewer entries of %s's log (%d) than its earlier one (%d): the log was rolled back",
				a.ExportedBy, author, min(na, nb), max(na, nb))
		}
		return nil
	}
	for _, x := range []struct {
		bundle, other *Report
		rep           *LogReport
		held          int
	}{{a, b, pa, nb}, {b, a, pb, na}} {
		// In x.bundle, author's log is receipted (cosigned) by the other
		// party up to rep.Receipted, and the other party's checkpoint says
		// it held rep.HeldByOther: the other party's export holds at least
		// that much. Author's own export holds every entry of its log that
		// any copy holds: it signed them all.
		need, why := uint64(0), ""
		switch {
		case x.other.ExportedBy == author:
			need, why = uint64(x.rep.Entries), fmt.Sprintf("%s's export holds %d entries of it, all signed by %s", x.bundle.ExportedBy, x.rep.Entries, author)
		case x.bundle.ExportedBy == author:
			need, why = x.rep.Receipted, fmt.Sprintf("%s receipted %d entries of it (the receipt in %s's export)", x.other.ExportedBy, x.rep.Receipted, author)
			if x.rep.HeldByOther > need {
				need, why = x.rep.HeldByOther, fmt.Sprintf("%s's checkpoint in %s's export says it held %d entries of it", x.other.ExportedBy, author, x.rep.HeldByOther)
			}
		}
		if uint64(x.held) < need {
			return bad("%s's export holds %d entries of %s's log, but %s: %s's export leaves out entries, or its station lost them (a restore) and has not fetched them back",
				x.other.ExportedBy, x.held, author, why, x.other.ExportedBy)
		}
	}
	return nil
}
