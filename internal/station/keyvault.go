package station

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"hotline/internal/stationdir"
	"hotline/internal/store"
)

// Keys for a station's other machines (stationdir/keyvault.go): the
// active process seals the key files into the shared store, and a
// standby that takes over installs them before it loads its keys.

// takeKeys brings a machine's key files in line with the sealed ones in
// a shared store, once this process holds the station's lease: a key
// change made on another machine reaches this one. A store that keeps
// none (SQLite, or none sealed yet) changes nothing.
func takeKeys(ctx context.Context, dir, name string, st store.Store, log *slog.Logger) error {
	kv, ok := st.(store.KeyVault)
	if !ok {
		return nil
	}
	sealed, err := kv.SealedKeys(ctx)
	if err != nil || sealed == nil {
		return err
	}
	kek, err := stationdir.LoadKEK(dir)
	if err != nil {
		if errors.Is(err, stationdir.ErrNoKEK) {
			// Set up before the store kept keys: this machine's own
			// keys are used, and refused below if they are not the
			// station's current ones.
			log.Warn("the store keeps the station's keys, sealed, but this machine has no key-encryption key to open them: copy keys/store.kek from the active machine", "dir", dir)
			return nil
		}
		return err
	}
	wrote, err := stationdir.InstallKeys(dir, name, kek, sealed)
	if err != nil {
		// This machine's own keys are used, and refused below if they
		// are not the station's current ones.
		log.Error("could not take the station's keys from the store", "err", err)
		return nil
	}
	if len(wrote) > 0 {
		log.Warn("keys taken from the store (a key change on another machine)", "files", wrote)
	}
	return nil
}

// sealKeys keeps the station's key files, sealed, in a shared store (a
// no-op on SQLite): at every start of the active process and at each key
// change, before the store records it and after the files are moved.
func sealKeys(ctx context.Context, dir, name string, st store.Store, log *slog.Logger) error {
	kv, ok := st.(store.KeyVault)
	if !ok {
		return nil
	}
	kek, err := stationdir.LoadKEK(dir)
	var made bool
	if errors.Is(err, stationdir.ErrNoKEK) {
		// A key of this machine's own would seal the keys so that the
		// machines holding the station's key could not open them: one is
		// made only while the store keeps none.
		if held, err := kv.SealedKeys(ctx); err != nil || held != nil {
			if err == nil {
				log.Error("the store keeps the station's keys sealed under a key-encryption key this machine lacks: they are not sealed again; copy keys/store.kek from the machine that made it (mode 0600)")
			}
			return err
		}
		kek, made, err = stationdir.EnsureKEK(dir)
	}
	if err != nil {
		return err
	}
	if made {
		log.Warn("made the station's key-encryption key: copy keys/store.kek to each standby machine once (docs/OPERATIONS.md, \"Several machines\")", "file", stationdir.KEKFile)
	}
	sealed, err := stationdir.SealKeys(dir, name, kek)
	if err != nil {
		return err
	}
	if err := kv.PutSealedKeys(ctx, sealed); err != nil {
		return fmt.Errorf("keeping the station's keys in the store: %w", err)
	}
	return nil
}
