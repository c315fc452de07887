package sim

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"
	"testing/cryptotest"
	"time"
)

var (
	flagSeeds    = flag.Int("sim.seeds", 0, "seeds of two stations for TestSim (0: the CI default)")
	flagBig      = flag.Int("sim.big", -1, "seeds of -sim.bigstations stations for TestSim (-1: the CI default)")
	flagBigN     = flag.Int("sim.bigstations", 20, "stations in TestSim's big runs")
	flagMesh     = flag.Int("sim.mesh", -1, "seeds of 57 stations for TestSim (-1: the CI default)")
	flagSeed     = flag.Uint64("sim.seed", 1, "the seed TestReplay runs")
	flagStations = flag.Int("sim.stations", 2, "stations in TestReplay's run")
	flagDuration = flag.Duration("sim.duration", 0, "simulated time with faults per run (0: each test's default)")
	flagRate     = flag.Float64("sim.rate", 0, "TestReplay: operator messages per station per simulated minute (0: the default)")
	flagFaults   = flag.Float64("sim.faults", 0, "TestReplay: faults per simulated minute (0: the default, -1: none)")
	flagTrace    = flag.String("sim.trace", "", "TestReplay: write every step to this file")
	flagStop     = flag.Int64("sim.stop", 0, "TestReplay: stop after this many steps")
	flagRestores = flag.Bool("sim.restores", false, "TestReplay: restore stations from backups (Config.Restores)")
)

// run runs one config with deterministic crypto and fails the test with
// the replay command if an invariant did not hold.
func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	cryptotest.SetGlobalRandom(t, cfg.Seed)
	r := Run(cfg)
	t.Log(r.Summary())
	t.Log(r.Details())
	if !r.OK() {
		for _, v := range r.Violations {
			t.Errorf("%s", v)
		}
		t.Errorf("replay: %s", cfg.Replay())
	}
	if r.Delivered["text"] > 0 && r.SignedAhead == 0 {
		t.Error("no checkpoint or receipt was signed while its write was under way (protocol.Writing)")
	}
	t.Logf("entries frames sent ahead of their write %d, taken on their durable frame %d, durable frames that found none %d",
		r.SentAhead, r.TakenAhead, r.MissedAhead)
	return r
}

// TestSim is what CI runs: six seeds of two stations with three channels
// for two simulated hours, three networks of 20 stations (a full mesh, a
// relay) for 15 minutes, and one of 57 stations (1,596 pairs) for 3
// minutes, with every kind of fault; about a minute and a half on two
// cores. Longer runs: -sim.seeds, -sim.big, -sim.mesh, -sim.duration, or
// hotline sim.
func TestSim(t *testing.T) {
	seeds, big, mesh, dur, bigDur, meshDur := 6, 3, 1, 2*time.Hour, 15*time.Minute, 3*time.Minute
	if testing.Short() {
		seeds, big, mesh, dur = 2, 0, 0, 30*time.Minute
	}
	if *flagSeeds > 0 {
		seeds = *flagSeeds
	}
	if *flagBig >= 0 {
		big = *flagBig
	}
	if *flagMesh >= 0 {
		mesh = *flagMesh
	}
	if *flagDuration > 0 {
		dur, bigDur, meshDur = *flagDuration, *flagDuration, *flagDuration
	}
	var all []*Report
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("stations=2/seed=%d", seed), func(t *testing.T) {
			all = append(all, run(t, Config{Seed: seed, Stations: 2, Duration: dur}))
		})
	}
	for seed := uint64(1001); seed <= uint64(1000+big); seed++ {
		t.Run(fmt.Sprintf("stations=%d/seed=%d", *flagBigN, seed), func(t *testing.T) {
			all = append(all, run(t, Config{Seed: seed, Stations: *flagBigN, Duration: bigDur}))
		})
	}
	for seed := uint64(2001); seed <= uint64(2000+mesh); seed++ {
		t.Run(fmt.Sprintf("stations=57/seed=%d", seed), func(t *testing.T) {
			all = append(all, run(t, Config{Seed: seed, Stations: 57, Duration: meshDur}))
		})
	}
	t.Log(Total(all))
	// Entries go ahead only on a direct path; some seeds keep it down for
	// most of their run, not all of them.
	taken := 0
	for _, r := range all {
		taken += r.TakenAhead
	}
	if taken == 0 {
		t.Error("no entries sent ahead of their write were taken on their durable frame (protocol.FrameAhead)")
	}
	// Officers withdrew some of their extra proposals (workload.go,
	// proposeChannel), and every channel settled active or withdrawn on
	// both sides (pending).
	withdrawn, accepted := 0, 0
	for _, r := range all {
		withdrawn, accepted = withdrawn+r.Withdrawn, accepted+r.WithdrawnAccepted
	}
	t.Logf("channels withdrawn: %d, of which %d after their acceptance was written", withdrawn, accepted)
	if (withdrawn == 0 || accepted == 0) && !testing.Short() {
		t.Errorf("channels withdrawn %d, after their acceptance was written %d: want some of each", withdrawn, accepted)
	}
	// A paused leader continued after its successor wrote, and a crash
	// after sending ahead (takeover.go), struck, and late entries sent
	// ahead reached a peer that held other entries at their indexes:
	// dropped, with no violation of "one binding version" or "no false
	// alarm" above.
	if !testing.Short() {
		tot := Total(all)
		conflicts := 0
		for _, r := range all {
			conflicts += r.ConflictAhead
		}
		if tot.Faults["takeover"] == 0 || tot.Faults["crash after ahead"] == 0 || tot.Faults["late ahead frame"] == 0 || conflicts == 0 {
			t.Errorf("takeovers %d, crashes after sending ahead %d, late ahead frames %d, dropped as conflicting %d: want some of each",
				tot.Faults["takeover"], tot.Faults["crash after ahead"], tot.Faults["late ahead frame"], conflicts)
		}
	}
}

// TestSimRestore: stations lose their disks and are restored from backups
// of every age, from the one taken after setup to one a moment old, while
// their peers hold more (entries of theirs the backup lacks, entries of
// the peers' they had receipted), among every other fault; the
// invariants hold, and everything that was not lost with a disk is
// delivered once the faults stop (restore.go).
func TestSimRestore(t *testing.T) {
	seeds, dur := 6, 2*time.Hour
	if testing.Short() {
		seeds, dur = 2, 30*time.Minute
	}
	if *flagDuration > 0 {
		dur = *flagDuration
	}
	var ages []time.Duration
	restores, lost, fetched, resent := 0, 0, 0, 0
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		stations := 2
		if seed%3 == 0 {
			stations = 4
		}
		t.Run(fmt.Sprintf("stations=%d/seed=%d", stations, seed), func(t *testing.T) {
			r := run(t, Config{Seed: seed, Stations: stations, Duration: dur, Restores: true})
			t.Logf("restored from backups aged %v; %d entries lost with a disk", r.RestoredAges, r.LostWithDisk)
			ages = append(ages, r.RestoredAges...)
			restores += r.Faults["restore"]
			lost += r.LostWithDisk
			fetched += r.Faults["own entries fetched back"]
			resent += r.Faults["peer's entries sent again"]
		})
	}
	if testing.Short() {
		return
	}
	slices.Sort(ages)
	t.Logf("%d restores, from backups aged %v: %d logs fetched back, %d sent again by a peer, %d entries lost with a disk", restores, ages, fetched, resent, lost)
	// The ages depend on the seeds' schedules (a restore makes every
	// older backup stale), so the bound on the oldest is half an hour.
	if restores < 2*seeds || len(ages) == 0 || ages[0] > time.Minute || ages[len(ages)-1] < 30*time.Minute {
		t.Errorf("%d restores, from backups aged %v: want at least %d, from under a minute old to over half an hour", restores, ages, 2*seeds)
	}
	if fetched == 0 || resent == 0 {
		t.Errorf("own entries fetched back %d times, a peer's sent again %d times: want some of each (a peer holding more)", fetched, resent)
	}
}

// TestReplay runs one seed (-sim.seed, -sim.stations, -sim.duration),
// optionally writing every step to a file (-sim.trace), and checks that
// running it again gives the same run, step for step and byte for byte.
func TestReplay(t *testing.T) {
	cfg := Config{Seed: *flagSeed, Stations: *flagStations, Duration: *flagDuration, Rate: *flagRate, Faults: *flagFaults, Stop: *flagStop, Restores: *flagRestores}
	if cfg.Duration == 0 {
		cfg.Duration = 20 * time.Minute
	}
	if *flagTrace != "" {
		f, err := os.Create(*flagTrace)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg.Trace = f
	}
	first := run(t, cfg)
	if *flagTrace != "" || *flagStop != 0 {
		return
	}
	cfg.Trace = nil
	again := run(t, cfg)
	if first.Digest != again.Digest || first.Steps != again.Steps {
		t.Fatalf("the same seed ran differently: %d steps, digest %s; then %d steps, digest %s", first.Steps, first.Digest, again.Steps, again.Digest)
	}
}

// TestScheduleWithoutDeterministicCrypto: with crypto/rand left alone (as
// in hotline sim) a seed still makes the same schedule: the same events,
// faults and frames, only the bytes of keys and encapsulations differ.
func TestScheduleWithoutDeterministicCrypto(t *testing.T) {
	cfg := Config{Seed: 7, Stations: 3, Duration: 15 * time.Minute}
	a, b := Run(cfg), Run(cfg)
	if !a.OK() || !b.OK() {
		t.Fatalf("violations: %v %v", a.Violations, b.Violations)
	}
	if a.Schedule != b.Schedule || a.Steps != b.Steps {
		t.Fatalf("schedules differ: %d steps %s, %d steps %s", a.Steps, a.Schedule, b.Steps, b.Schedule)
	}
	if a.Digest == b.Digest {
		t.Fatalf("digests agree without deterministic crypto: the digest does not cover the bytes")
	}
}
