package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"hotline/internal/store"
)

// The station's own planning: planned activities and findings.

func testPlans(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if ps, err := s.Plans(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("Plans of an empty store = %v, %v", ps, err)
	}
	bodies := [][]byte{
		[]byte(`{"kind":"transit","title":"北上过航","lang":"zh-Hans"}`),
		{0, 1, 2, 0xff}, // the store keeps bytes, whatever they are
	}
	var ids []int64
	for i, b := range bodies {
		id, err := s.AddPlan(ctx, store.Plan{ID: 99, AddedAt: at(i), Body: b, Notice: ""})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Errorf("plan IDs %v then %d: not increasing", ids, id)
		}
		ids = append(ids, id)
	}
	if err := s.SetPlanNotice(ctx, ids[0], "ops/ALPHA/7"); err != nil {
		t.Fatal(err)
	}
	// Once notified, a plan keeps the notice it was sent as.
	if err := s.SetPlanNotice(ctx, ids[0], "ops/ALPHA/8"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SetPlanNotice again = %v, want ErrConflict", err)
	}
	if err := s.SetPlanNotice(ctx, ids[1]+100, "ops/ALPHA/9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPlanNotice of no plan = %v, want ErrNotFound", err)
	}
	ps, err := s.Plans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("Plans = %+v, want 2", ps)
	}
	for i, p := range ps {
		notice := ""
		if i == 0 {
			notice = "ops/ALPHA/7"
		}
		if p.ID != ids[i] || !bytes.Equal(p.Body, bodies[i]) || p.Notice != notice || !sameTime(p.AddedAt, at(i)) {
			t.Errorf("Plans[%d] = {%d %s %q %q}, want {%d %s %q %q}", i, p.ID, showTime(p.AddedAt), p.Body, p.Notice,
				ids[i], showTime(at(i)), bodies[i], notice)
		}
	}
}

func testFindings(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if fs, err := s.Findings(ctx); err != nil || len(fs) != 0 {
		t.Fatalf("Findings of an empty store = %v, %v", fs, err)
	}
	a := store.Finding{Key: "overlap plan:1 ops/BRAVO/3", Rule: "overlap", FoundAt: at(1), Channel: "ops", Peer: "BRAVO", Body: []byte(`{"distance_nm":0}`)}
	b := store.Finding{Key: "approach ops/BRAVO/5", Rule: "approach", FoundAt: at(2), Channel: "ops", Peer: "BRAVO", Body: []byte(`{"distance_nm":0.2}`)}
	idA, added, err := s.AddFinding(ctx, a)
	if err != nil || !added {
		t.Fatalf("AddFinding = %d, %v, %v", idA, added, err)
	}
	idB, added, err := s.AddFinding(ctx, b)
	if err != nil || !added || idB <= idA {
		t.Fatalf("AddFinding = %d, %v, %v (after %d)", idB, added, err, idA)
	}
	// The same key again is not a new finding and changes nothing.
	again := a
	again.FoundAt, again.Body = at(9), []byte(`{}`)
	if id, added, err := s.AddFinding(ctx, again); err != nil || added || id != idA {
		t.Errorf("AddFinding of a stored key = %d, %v, %v; want %d, false", id, added, err, idA)
	}
	// A finding found again uses up no number: the next is the next.
	c := store.Finding{Key: "approach ops/ALPHA/6", Rule: "approach", FoundAt: at(4), Channel: "ops", Peer: "BRAVO", Body: []byte(`{}`)}
	if id, added, err := s.AddFinding(ctx, c); err != nil || !added || id != idB+1 {
		t.Errorf("AddFinding after a duplicate = %d, %v, %v; want %d, true", id, added, err, idB+1)
	}
	// Two writers finding the same thing at once: one adds it.
	var wg sync.WaitGroup
	adds := make(chan bool, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, added, err := s.AddFinding(ctx, store.Finding{Key: "overlap race", Rule: "overlap", FoundAt: at(3), Channel: "ops", Peer: "BRAVO", Body: []byte(fmt.Sprint(i))})
			if err != nil {
				t.Error(err)
			}
			adds <- added
		}()
	}
	wg.Wait()
	close(adds)
	n := 0
	for a := range adds {
		if a {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of 8 concurrent AddFinding calls added the finding, want 1", n)
	}
	fs, err := s.Findings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 4 {
		t.Fatalf("Findings = %+v, want 4", fs)
	}
	for i, want := range []store.Finding{a, b} {
		want.ID = []int64{idA, idB}[i]
		got := fs[i]
		if got.ID != want.ID || got.Key != want.Key || got.Rule != want.Rule || got.Channel != want.Channel || got.Peer != want.Peer ||
			!bytes.Equal(got.Body, want.Body) || !sameTime(got.FoundAt, want.FoundAt) {
			t.Errorf("Findings[%d] = %+v (found %s), want %+v (found %s)", i, got, showTime(got.FoundAt), want, showTime(want.FoundAt))
		}
	}
}

// testCodebooks: extension files kept byte for byte in the order added,
// one per reference, also after reopening.
func testCodebooks(t *testing.T, w *world, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	if cs, err := s.Codebooks(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("Codebooks of an empty store = %v, %v", cs, err)
	}
	want := []store.CodebookFile{
		{Ref: "hotline-cues/1+alpha-bravo/1 sha256:aa", File: []byte(`{"format":"hotline codebook extension v1","title":{"zh-Hans":"甲乙"}}`), AddedAt: at(1)},
		{Ref: "hotline-cues/1+alpha-bravo/1+charlie/2 sha256:bb", File: []byte{0, 1, 0xff}, AddedAt: at(2)},
	}
	for _, c := range want {
		added, err := s.AddCodebook(ctx, c)
		if err != nil || !added {
			t.Fatalf("AddCodebook(%s) = %v, %v", c.Ref, added, err)
		}
	}
	// The same reference again changes nothing, whatever the file.
	if added, err := s.AddCodebook(ctx, store.CodebookFile{Ref: want[0].Ref, File: []byte("other"), AddedAt: at(3)}); err != nil || added {
		t.Errorf("AddCodebook of a reference stored = %v, %v; want false, nil", added, err)
	}
	got, err := s.Codebooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Codebooks = %d files, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Ref != want[i].Ref || !bytes.Equal(got[i].File, want[i].File) || !sameTime(got[i].AddedAt, want[i].AddedAt) {
			t.Errorf("Codebooks[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}
