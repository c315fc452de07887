package main

import (
	"context"
	"errors"
	"fmt"
	"hotline/internal/stationdir"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"text/template"
)

func cmdDoctor(f *flags) action {
	f.printsJSON()
	f.needs("dir")
	return func(ctx context.Context, _ []string) error {
		if *f.dir == "" {
			return errors.New("no station directory: use --dir or set HOTLINE_DIR")
		}
		ds := stationdir.Doctor(ctx, *f.dir, stationdir.DoctorOptions{})
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
