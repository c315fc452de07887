package main

// A verb's flags: what it declares before parsing, and the parsing.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// flags is a verb's flag set with the common flags (--dir, and --json for
// the verbs that print data), and what the verb's usage needs beyond the
// flags themselves: which are required and the positional arguments. A
// verb's function declares all of it before anything is parsed; parse
// checks it, and the synopsis is built from it.
type flags struct {
	*flag.FlagSet
	dir  *string
	json *bool
	reqs []requirement
	args []string // the positional arguments' names, e.g. FILE
	// group: the verb's name is also the first word of other verbs'
	// (relay), so a word after it that is not a flag names a verb that
	// hotline does not have.
	group bool
}

// A requirement is a flag that must be given, or alternatives of which
// one must be, each alternative one flag or several.
type requirement struct {
	alts [][]string
	// checked: parse checks it. Otherwise the verb checks it after
	// parsing, because it depends on other flags or has its own words.
	checked bool
}

// A repeated flag's value gathers every time the flag is given.
type repeated interface {
	flag.Value
	repeated()
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{FlagSet: fs, dir: fs.String("dir", os.Getenv("HOTLINE_DIR"), "the station's directory `DIR`"), json: new(bool)}
}

// printsJSON adds --json, for a verb that prints data.
func (f *flags) printsJSON() {
	f.json = f.Bool("json", false, "print JSON")
}

// relayDir makes --dir the relay's directory, by default
// $HOTLINE_RELAY_DIR (not a station's $HOTLINE_DIR).
func (f *flags) relayDir() {
	d := f.Lookup("dir")
	d.Usage = "the relay's directory `DIR`"
	d.DefValue = os.Getenv("HOTLINE_RELAY_DIR")
	*f.dir = d.DefValue
}

// require declares flags that must be given: parse fails, saying
// "VERB: missing --a, --b", when any of them is empty.
func (f *flags) require(names ...string) {
	for _, n := range names {
		f.mustHave(n)
		f.reqs = append(f.reqs, requirement{alts: [][]string{{n}}, checked: true})
	}
}

// needs declares a requirement the verb checks itself after parsing:
// one flag, or alternatives, each one flag or several separated by
// spaces. The synopsis shows it as required; parse does not check it.
func (f *flags) needs(alts ...string) {
	var r requirement
	for _, a := range alts {
		names := strings.Fields(a)
		for _, n := range names {
			f.mustHave(n)
		}
		r.alts = append(r.alts, names)
	}
	f.reqs = append(f.reqs, r)
}

// mustHave panics unless the flag is declared: a requirement names a
// flag declared before it.
func (f *flags) mustHave(name string) {
	if f.Lookup(name) == nil {
		panic(fmt.Sprintf("%s: a requirement names --%s, which is not declared", f.Name(), name))
	}
}

// arg declares a positional argument, by the name the synopsis gives it.
func (f *flags) arg(name string) {
	f.args = append(f.args, name)
}

// parse parses args, rejects positional arguments beyond those declared
// and checks the required flags; it returns the positional arguments.
func (f *flags) parse(args []string) ([]string, error) {
	if f.group && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return nil, fmt.Errorf("unknown verb %q (run hotline help)", f.Name()+" "+args[0])
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %v", f.Name(), err)
	}
	if f.NArg() > len(f.args) {
		return nil, fmt.Errorf("%s: unexpected argument %q", f.Name(), f.Arg(len(f.args)))
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	vals := map[string]string{}
	for _, r := range f.reqs {
		if !r.checked {
			continue
		}
		n := r.alts[0][0]
		fl := f.Lookup(n)
		vals[n] = fl.Value.String()
		if _, ok := fl.Value.(repeated); ok && given[n] {
			vals[n] = "given" // a repeated flag given once is there, even empty
		}
	}
	if err := required(f.Name(), vals); err != nil {
		return nil, err
	}
	return f.Args(), nil
}

// required fails, naming the empty ones, unless every value of vals is
// given; vals maps a flag's name to its value.
func required(name string, vals map[string]string) error {
	var missing []string
	for k, v := range vals {
		if v == "" {
			missing = append(missing, "--"+k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Errorf("%s: missing %s", name, strings.Join(missing, ", "))
	}
	return nil
}
