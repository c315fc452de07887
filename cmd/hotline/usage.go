package main

// A verb's usage, built from its flags: hotline help lists every verb with
// a synopsis made from the flag set the verb declares, and hotline VERB
// --help adds what each flag means and its default.

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"hotline/internal/ops"
)

// synopsis is the verb's usage after its name, in words, each one flag,
// a choice between flags, or a positional argument: the requirements as
// declared, then the other flags by name (all but --dir, which every verb
// takes), --json and the positional arguments. A flag's value is named by
// the backquoted word of its usage (flag.UnquoteUsage); "..." follows a
// flag that may be repeated, and brackets enclose an optional one.
func (f *flags) synopsis() []string {
	var words []string
	done := map[string]bool{"dir": true, "json": true}
	for _, r := range f.reqs {
		var alts []string
		for _, a := range r.alts {
			var ws []string
			for _, n := range a {
				ws = append(ws, f.word(n, false))
				done[n] = true
			}
			alts = append(alts, strings.Join(ws, " "))
		}
		if len(alts) > 1 {
			words = append(words, "("+strings.Join(alts, " | ")+")")
		} else {
			words = append(words, alts[0])
		}
	}
	f.VisitAll(func(fl *flag.Flag) {
		if !done[fl.Name] {
			words = append(words, f.word(fl.Name, true))
		}
	})
	if f.Lookup("json") != nil {
		words = append(words, f.word("json", true))
	}
	return append(words, f.args...)
}

// word is a flag as the synopsis shows it.
func (f *flags) word(name string, optional bool) string {
	fl := f.Lookup(name)
	w := flagWithValue(fl)
	if optional {
		w = "[" + w + "]"
	}
	if isRepeated(fl) {
		w += "..."
	}
	return w
}

// flagWithValue is the flag, and its value named by the backquoted word
// of its usage, e.g. "--card FILE".
func flagWithValue(fl *flag.Flag) string {
	if v, _ := flag.UnquoteUsage(fl); v != "" {
		return "--" + fl.Name + " " + v
	}
	return "--" + fl.Name
}

// isRepeated says whether the flag may be given more than once.
func isRepeated(fl *flag.Flag) bool {
	_, ok := fl.Value.(repeated)
	return ok
}

// description is the verb's line of help: its own, or else the Help of the
// operation it does.
func (v verb) description() string {
	if v.help != "" {
		return v.help
	}
	for _, op := range ops.All {
		if op.Verb == v.name {
			return op.Help
		}
	}
	return ""
}

// usageWidth is where the usage text wraps a synopsis.
const usageWidth = 80

// usage lists every verb: its synopsis, then its description.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hotline VERB [flags]")
	fmt.Fprintln(w, "Every verb takes --dir DIR (default $HOTLINE_DIR; for the relay verbs, $HOTLINE_RELAY_DIR).")
	fmt.Fprintln(w, "hotline VERB --help describes the verb's flags.")
	fmt.Fprintln(w)
	for _, v := range verbs {
		f := newFlags(v.name)
		v.flags(f)
		fmt.Fprint(w, wrap("  "+v.name, f.synopsis(), "        "))
		fmt.Fprintf(w, "      %s\n", v.description())
	}
}

// verbUsage describes one verb: its synopsis, its description and each of
// its flags with its default.
func verbUsage(w io.Writer, v verb, f *flags) {
	fmt.Fprint(w, wrap("usage: hotline "+v.name, f.synopsis(), "        "))
	fmt.Fprintf(w, "%s\n\n", v.description())
	required := map[string]bool{}
	for _, r := range f.reqs {
		if len(r.alts) == 1 {
			for _, n := range r.alts[0] {
				required[n] = true
			}
		}
	}
	f.VisitAll(func(fl *flag.Flag) {
		head := "  " + flagWithValue(fl)
		var notes []string
		if required[fl.Name] {
			notes = append(notes, "required")
		}
		if isRepeated(fl) {
			notes = append(notes, "repeatable")
		}
		if len(notes) > 0 {
			head += " (" + strings.Join(notes, ", ") + ")"
		}
		_, text := flag.UnquoteUsage(fl)
		if d := fl.DefValue; d != "" && d != "0" && d != "0s" && d != "false" {
			if isString(fl) {
				d = strconv.Quote(d)
			}
			text += " (default " + d + ")"
		}
		fmt.Fprintf(w, "%s\n        %s\n", head, text)
	})
}

// isString says whether the flag holds a string, whose default is shown
// quoted as flag.PrintDefaults shows it.
func isString(fl *flag.Flag) bool {
	g, ok := fl.Value.(flag.Getter)
	if !ok {
		return false
	}
	_, ok = g.Get().(string)
	return ok
}

// wrap is head followed by words, filled to usageWidth columns, with indent
// before each further line.
func wrap(head string, words []string, indent string) string {
	var b strings.Builder
	line := head
	for _, w := range words {
		if len(line)+1+len(w) > usageWidth && line != head {
			b.WriteString(line + "\n")
			line = indent + w
			continue
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}
