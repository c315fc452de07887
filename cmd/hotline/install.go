package main

import (
	"context"
	"errors"
	"fmt"
	"hotline/internal/api"
	"hotline/internal/protocol"
	"hotline/internal/stationdir"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
)

func cmdDoctor(f *flags) action {
	f.printsJSON()
	f.needs("dir")
	return func(ctx context.Context, _ []string) error {
		if *f.dir == "" {
			return errors.New("no station directory: use --dir or set HOTLINE_DIR")
		}
		ds := stationdir.Doctor(ctx, *f.dir, stationdir.DoctorOptions{})
		ds = append(ds, statusChecks(ctx, *f.dir)...)
		failed := 0
		for _, d := range ds {
			if d.Status == "fail" {
				failed++
			}
		}
		if *f.json {
			if err := printJSON(ds); err != nil {
				return err
			}
		} else {
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			for _, d := range ds {
				line := d.Detail
				if d.Fix != "" {
					line += " — fix: " + d.Fix
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(d.Status), d.Check, line)
			}
			tw.Flush()
		}
		if failed > 0 {
			return fmt.Errorf("doctor: %d checks failed", failed)
		}
		return nil
	}
}

// statusChecks asks the running station (hotline run, through its API)
// what hotline status shows, and turns each channel that is not as it
// should be into a diagnosis: a direction not moving, a relay refusing
// this station, a channel down fail; a path down, a dormant channel
// warn. Without a running station there is nothing to ask.
func statusChecks(ctx context.Context, dir string) []stationdir.Diagnosis {
	if _, err := os.Stat(filepath.Join(dir, api.AddrFile)); err != nil {
		return nil
	}
	c, err := api.NewClient(dir)
	if err != nil {
		return []stationdir.Diagnosis{{Check: "status", Status: "warn", Detail: "the running station's API: " + err.Error(), Fix: "check api.addr and the token in the station directory"}}
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := c.Status(sctx)
	if err != nil {
		return []stationdir.Diagnosis{{Check: "status", Status: "warn", Detail: "the running station did not answer: " + err.Error(), Fix: "see the process check; hotline run logs to stderr"}}
	}
	var out []stationdir.Diagnosis
	for _, ch := range s.Channels {
		switch ch.State {
		case protocol.StateActive:
			out = append(out, stationdir.Diagnosis{Check: "status", Status: "ok", Detail: fmt.Sprintf("channel %s with %s is active", ch.ID, ch.Peer)})
		case protocol.StateDormant:
			out = append(out, stationdir.Diagnosis{Check: "status", Status: "warn", Detail: fmt.Sprintf("channel %s with %s is dormant: the latest operator check (%s) went unanswered", ch.ID, ch.Peer, ch.LastCheck),
				Fix: "ask the peer's duty officer to answer checks (hotline ack)"})
		case protocol.StateDegraded, protocol.StateDown:
			for _, t := range ch.Troubles {
				status := "fail"
				if t.Kind == protocol.TroublePath && ch.State == protocol.StateDegraded {
					status = "warn"
				}
				out = append(out, stationdir.Diagnosis{Check: "status", Status: status, Detail: fmt.Sprintf("channel %s with %s is %s: %s", ch.ID, ch.Peer, ch.State, t.Reason), Fix: t.Action})
			}
		default:
			out = append(out, stationdir.Diagnosis{Check: "status", Status: "ok", Detail: fmt.Sprintf("channel %s with %s is %s", ch.ID, ch.Peer, ch.State)})
		}
	}
	for _, r := range s.RelaysRefusing {
		out = append(out, stationdir.Diagnosis{Check: "status", Status: "fail", Detail: fmt.Sprintf("the running station: relay %s at %s refuses it since %s: %s", r.Relay, r.Addr, r.Since.UTC().Format(time.RFC3339), r.Error),
			Fix: "have the relay's operator allow this station's card (hotline relay allow --card CARD --fingerprint FP)"})
	}
	return out
}

// unit is the systemd unit hotline install --print-unit prints. The
// station may write only its own directory; it needs no privilege (its
// ports are above 1024 unless an operator chooses otherwise).
var unit = template.Must(template.New("unit").Parse(`[Unit]
Description=Hotline station ({{.Dir}})
Documentation=file:///usr/share/doc/hotline/OPERATIONS.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={{.User}}
Group={{.User}}
ExecStart={{.Binary}} run --dir {{.Dir}} --log-format json
Restart=on-failure
RestartSec=1
# SIGTERM finishes pending writes first.
KillSignal=SIGTERM
TimeoutStopSec=30
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={{.Dir}}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`))

func cmdInstall(f *flags) action {
	print := f.Bool("print-unit", false, "print the systemd unit on standard output")
	user := f.String("user", "hotline", "the dedicated `USER` the station runs as")
	binary := f.String("binary", "/usr/local/bin/hotline", "`PATH` where the binary is installed")
	f.needs("print-unit")
	return func(ctx context.Context, _ []string) error {
		if !*print {
			return errors.New("install: only --print-unit is built; see docs/OPERATIONS.md, \"Install\"")
		}
		dir := *f.dir
		if dir == "" {
			dir = "/var/lib/hotline"
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		for what, v := range map[string]string{"--dir": abs, "--user": *user, "--binary": *binary} {
			if strings.ContainsAny(v, " \t\n\"'\\%$;") || v == "" {
				return fmt.Errorf("install: %s %q: spaces, quotes and %%, $, ; are not allowed in a unit", what, v)
			}
		}
		return unit.Execute(os.Stdout, map[string]string{"Dir": abs, "User": *user, "Binary": *binary})
	}
}
