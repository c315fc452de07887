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
// the verbs that print data), and what parse checks beyond the flags
// themselves: which are required and the positional arguments. A verb's
// function declares all of it before anything is parsed.
type flags struct {
	*flag.FlagSet
	dir  *string
	json *bool
	reqs []string // the required flags
	args []string // the positional arguments' names, e.g. FILE
	// group: the verb's name is also the first word of other verbs'
	// (relay), so a word after it that is not a flag names a verb that
	// hotline does not have.
	group bool
}

// A repeated flag's value gathers every time the flag is given.
type repeated interface {
	flag.Value
	repeated()
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{FlagSet: fs, dir: fs.String("dir", os.Getenv("HOTLINE_DIR"), "station directory"), json: new(bool)}
}

// printsJSON adds --json, for a verb that prints data.
func (f *flags) printsJSON() {
	f.json = f.Bool("json", false, "print JSON")
}

// relayDir makes --dir the relay's directory, by default
// $HOTLINE_RELAY_DIR (not a station's $HOTLINE_DIR).
func (f *flags) relayDir() {
	*f.dir = os.Getenv("HOTLINE_RELAY_DIR")
}

// require declares flags that must be given: parse fails, saying
// "VERB: missing --a, --b", when any of them is empty.
func (f *flags) require(names ...string) {
	for _, n := range names {
		if f.Lookup(n) == nil {
			panic(fmt.Sprintf("%s: --%s is required but not declared", f.Name(), n))
		}
	}
	f.reqs = append(f.reqs, names...)
}

// arg declares a positional argument, by its name.
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
	for _, n := range f.reqs {
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
