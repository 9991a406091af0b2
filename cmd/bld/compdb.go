package main

import (
	"encoding/json"
	"fmt"

	"bld/cmd/bld/internal/build"
	"bld/exec/compdb"
	"bld/exec/store"
)

// writeCompileCommands writes the compilation database of the plan's
// actions (those the patterns need) to path atomically, so that clangd
// never reads half a file. root is the entries' directory.
func writeCompileCommands(path, root string, plan *build.Plan) (int, error) {
	entries := compdb.Entries(neededActions(plan), root)
	if entries == nil {
		entries = []compdb.Entry{}
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return 0, err
	}
	if err := store.WriteFileAtomic(path, append(data, '\n'), 0o644); err != nil {
		return 0, fmt.Errorf("writing %s: %w", path, err)
	}
	return len(entries), nil
}
