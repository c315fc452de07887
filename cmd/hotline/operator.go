package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"hotline/internal/api"
	"hotline/internal/operator"
	"hotline/internal/station"
)

// operators is what the operator verbs need, here (the station opened in
// this process) or through the API of the running station.
type operators interface {
	Add(ctx context.Context, r operator.AddRequest) (*operator.View, error)
	List(ctx context.Context) ([]operator.View, error)
	Remove(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
}

type localOperators struct{ r *operator.Registry }

func (l localOperators) Add(ctx context.Context, r operator.AddRequest) (*operator.View, error) {
	return l.r.Add(ctx, operator.Local, r)
}
func (l localOperators) List(ctx context.Context) ([]operator.View, error) { return l.r.List(ctx) }
func (l localOperators) Remove(ctx context.Context, name string) error {
	return l.r.Remove(ctx, operator.Local, name)
}
func (l localOperators) Unlock(ctx context.Context, name string) error {
	return l.r.Unlock(ctx, operator.Local, name)
}

type remoteOperators struct{ c *api.Client }

func (r remoteOperators) Add(ctx context.Context, req operator.AddRequest) (*operator.View, error) {
	return r.c.AddOperator(ctx, req)
}
func (r remoteOperators) List(ctx context.Context) ([]operator.View, error) {
	return r.c.Operators(ctx)
}
func (r remoteOperators) Remove(ctx context.Context, name string) error {
	return r.c.RemoveOperator(ctx, name)
}
func (r remoteOperators) Unlock(ctx context.Context, name string) error {
	return r.c.UnlockOperator(ctx, name)
}

func withOperators(ctx context.Context, dir string, f func(operators) error) error {
	return withStation(ctx, dir,
		func(st *station.Station) error { return f(localOperators{&operator.Registry{Store: st.Store}}) },
		func(c *api.Client) error { return f(remoteOperators{c}) })
}

// readPassword reads a password from a file or from standard input: never
// from a flag, which anyone on the machine could read in the process list.
// At a terminal it asks twice, without echo.
func readPassword(file string, stdin *os.File) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if term.IsTerminal(int(stdin.Fd())) {
		fmt.Fprint(os.Stderr, "password: ")
		a, err := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(os.Stderr, "again: ")
		b, err := term.ReadPassword(int(stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, operator.MaxPassword+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input (or give --password-file FILE)")
	}
	return line, nil
}

func cmdOperatorAdd(f *flags) action {
	f.printsJSON()
	name := f.String("name", "", "operator `NAME`")
	role := f.String("role", "", "`ROLE`: duty, supervisor, admin or auditor")
	lang := f.String("lang", "en", "interface language: `en|zh`")
	pwFile := f.String("password-file", "", "`FILE` holding the password (default: read it from standard input)")
	as := f.String("as", "", "the `NAME` this operator's acknowledgements and suspensions carry to the other party (default: the role's title, never the login)")
	f.require("dir", "name", "role")
	return func(ctx context.Context, _ []string) error {
		// Check what can be checked before asking for a password.
		for _, err := range []error{operator.CheckName(*name), operator.CheckRole(*role), operator.CheckLang(*lang), operator.CheckRecordName(*name, *as)} {
			if err != nil {
				return fmt.Errorf("operator add: %w", err)
			}
		}
		pw, err := readPassword(*pwFile, os.Stdin)
		if err != nil {
			return fmt.Errorf("operator add: %w", err)
		}
		return withOperators(ctx, *f.dir, func(o operators) error {
			v, err := o.Add(ctx, operator.AddRequest{Name: *name, Role: *role, Password: pw, Lang: *lang, As: *as})
			if err != nil {
				return err
			}
			if *f.json {
				return printJSON(v)
			}
			fmt.Printf("added operator %s (%s), %q for the record\n", v.Name, v.Role, v.RecordName)
			return nil
		})
	}
}

func cmdOperatorList(f *flags) action {
	f.printsJSON()
	return func(ctx context.Context, _ []string) error {
		return withOperators(ctx, *f.dir, func(o operators) error {
			vs, err := o.List(ctx)
			if err != nil {
				return err
			}
			if *f.json {
				return printJSON(vs)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tLANG\tADDED (UTC)\tLOGIN WAITS UNTIL (UTC)")
			for _, v := range vs {
				locked := "-"
				if time.Now().Before(v.LockedUntil) {
					locked = v.LockedUntil.Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", inert(v.Name), v.Role, v.Lang, v.CreatedAt.Format(time.DateTime), locked)
			}
			return tw.Flush()
		})
	}
}

func cmdOperatorRemove(f *flags) action {
	return operatorByName(f, func(ctx context.Context, o operators, name string) error {
		if err := o.Remove(ctx, name); err != nil {
			return err
		}
		fmt.Printf("removed operator %s; their sessions are ended\n", inert(name))
		return nil
	})
}

func cmdOperatorUnlock(f *flags) action {
	return operatorByName(f, func(ctx context.Context, o operators, name string) error {
		if err := o.Unlock(ctx, name); err != nil {
			return err
		}
		fmt.Printf("operator %s may log in again at once\n", inert(name))
		return nil
	})
}

func operatorByName(f *flags, do func(ctx context.Context, o operators, name string) error) action {
	name := f.String("name", "", "operator `NAME`")
	f.require("dir", "name")
	return func(ctx context.Context, _ []string) error {
		return withOperators(ctx, *f.dir, func(o operators) error { return do(ctx, o, *name) })
	}
}
