package main

import (
	"bld/cmd/bld/internal/build"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"bld/exec/compdb"
)

// writeCompileCommands writes the compilation database of the plan's
// actions (those the patterns need) to path: to a temporary file renamed
// over it, so that clangd never reads half a file. root is the entries'
// directory.
func writeCompileCommands(path, root string, plan *build.Plan) (int, error) {
	entries := compdb.Entries(neededActions(plan), root)
	if entries == nil {
		entries = []compdb.Entry{}
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".compile_commands-*")
	if err != nil {
		return 0, err
	}
	_, werr := tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return 0, fmt.Errorf("writing %s: %w", path, werr)
	}
	return len(entries), nil
}
