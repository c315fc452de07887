package main

import (
	"bytes"
	"flag"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// declared is the flag set verb v declares.
func declared(v verb) *flags {
	f := newFlags(v.name)
	v.flags(f)
	return f
}

// Every verb's synopsis names each of its flags: a required one as
// required, any other in brackets, each with a value named in its usage;
// and its positional arguments. The text is made from the flags, so this
// holds the making to account.
func TestUsageNamesEveryFlag(t *testing.T) {
	generic := []string{"value", "string", "int", "uint", "float", "duration"}
	for _, v := range verbs {
		f := declared(v)
		line := strings.Join(f.synopsis(), " ")
		required := map[string]bool{}
		for _, r := range f.reqs {
			for _, a := range r.alts {
				for _, n := range a {
					required[n] = true
				}
			}
		}
		f.VisitAll(func(fl *flag.Flag) {
			if name, _ := flag.UnquoteUsage(fl); slices.Contains(generic, name) {
				t.Errorf("%s: --%s names its value %q: give it a backquoted name in its usage", v.name, fl.Name, name)
			}
			w := regexp.QuoteMeta(flagWithValue(fl))
			switch {
			case required[fl.Name]:
				if !regexp.MustCompile(`(^|[ (|])` + w + `(\.\.\.)?([ )|]|$)`).MatchString(line) {
					t.Errorf("%s: the synopsis %q does not show %s as required", v.name, line, flagWithValue(fl))
				}
			case fl.Name == "dir":
				if strings.Contains(line, "--dir") {
					t.Errorf("%s: the synopsis %q shows --dir, which every verb takes, though it is not required", v.name, line)
				}
			default:
				if !regexp.MustCompile(`(^| )\[` + w + `\](\.\.\.)?( |$)`).MatchString(line) {
					t.Errorf("%s: the synopsis %q does not show %s as optional", v.name, line, flagWithValue(fl))
				}
			}
		})
		if a := strings.Join(f.args, " "); a != "" && !strings.HasSuffix(line, " "+a) && line != a {
			t.Errorf("%s: the synopsis %q does not end with its arguments %s", v.name, line, a)
		}
	}
}

// The flags a verb requires are those parse checks, with the words the
// verbs have always used: "VERB: missing --a, --b".
func TestRequiredFlagsAreChecked(t *testing.T) {
	t.Setenv("HOTLINE_DIR", "")
	t.Setenv("HOTLINE_RELAY_DIR", "")
	for _, v := range verbs {
		f := declared(v)
		var want []string
		for _, r := range f.reqs {
			if r.checked {
				want = append(want, "--"+r.alts[0][0])
			}
		}
		sort.Strings(want)
		_, err := f.parse(nil)
		switch {
		case len(want) == 0 && err != nil:
			t.Errorf("%s with no flags: %v; want no error from parse", v.name, err)
		case len(want) > 0 && (err == nil || err.Error() != v.name+": missing "+strings.Join(want, ", ")):
			t.Errorf("%s with no flags: %v; want %s: missing %s", v.name, err, v.name, strings.Join(want, ", "))
		}
	}
}

// hotline help lists every verb with its synopsis and its one line of
// help; hotline VERB --help adds each flag, marked when required, and its
// default.
func TestUsageText(t *testing.T) {
	var all bytes.Buffer
	usage(&all)
	for _, v := range verbs {
		d := v.description()
		if d == "" || strings.Contains(d, "\n") {
			t.Errorf("%s: description %q; want one line", v.name, d)
		}
		if !strings.Contains(all.String(), "\n  "+v.name+" ") && !strings.Contains(all.String(), "\n  "+v.name+"\n") {
			t.Errorf("hotline help does not list %s", v.name)
		}
		if !strings.Contains(all.String(), "\n      "+d+"\n") {
			t.Errorf("hotline help does not describe %s as %q", v.name, d)
		}
	}
	i := slices.IndexFunc(verbs, func(v verb) bool { return v.name == "relay init" })
	var one bytes.Buffer
	verbUsage(&one, verbs[i], declared(verbs[i]))
	for _, want := range []string{
		"usage: hotline relay init --dir DIR --name NAME --listen HOST:PORT",
		"\ncreate a relay\n",
		"\n  --name NAME (required)\n",
		"\n  --endpoint HOST:PORT (repeatable)\n",
		"\n        DURATION undeleted mail is kept (default 168h0m0s)\n",
		"\n        party CODE on the relay's card (default \"RELAY\")\n",
	} {
		if !strings.Contains(one.String(), want) {
			t.Errorf("hotline relay init --help lacks %q:\n%s", want, one.String())
		}
	}
}
