package postgres_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"hotline/internal/store"
)

// TestSealedKeys: the sealed keys a station keeps in its shared database
// are read back as written, replaced by the next write, and written only
// under the lease: a former holder's write fails with ErrFenced and
// changes nothing; an empty one is refused.
func TestSealedKeys(t *testing.T) {
	dsn := freshDB(t)
	ctx := t.Context()
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	if got, err := b.SealedKeys(ctx); err != nil || got != nil {
		t.Fatalf("before any write: %q, %v", got, err)
	}
	if _, err := a.Acquire(ctx, "a", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"first", "second"} {
		if err := a.PutSealedKeys(ctx, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if got, err := b.SealedKeys(ctx); err != nil || string(got) != v {
			t.Fatalf("read back %q, %v; want %q", got, err, v)
		}
	}
	if err := a.PutSealedKeys(ctx, nil); err == nil {
		t.Error("an empty write was taken")
	}
	if err := b.PutSealedKeys(ctx, []byte("not leased")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("a write without the lease while it is held: %v, want ErrFenced", err)
	}
	waitAcquire(t, b, "b", time.Minute)
	if err := a.PutSealedKeys(ctx, []byte("late")); !errors.Is(err, store.ErrFenced) {
		t.Errorf("the former holder's write: %v, want ErrFenced", err)
	}
	if got, _ := a.SealedKeys(ctx); !bytes.Equal(got, []byte("second")) {
		t.Errorf("after the fenced write: %q", got)
	}
}
