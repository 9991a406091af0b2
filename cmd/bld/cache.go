package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"bld/exec/store"
)

var cacheCommand = &command{
	summary: `inspect and maintain the action cache

  bld cache stats                 size, entries, hits and misses of recent builds
  bld cache trim --max-size SIZE  remove least recently used entries down to SIZE
                                  (bytes, or with a K, M, G suffix)
  bld cache verify                check every blob and result; remove bad ones

The cache directory is --cache-dir, else $BLD_CACHE_DIR, else
$XDG_CACHE_HOME/bld, else ~/.cache/bld. It is bounded (10G by default):
builds trim it when it grows past that.`,
	usage: "bld cache stats|trim --max-size SIZE|verify [--cache-dir DIR]",
	run:   runCache,
}

func runCache(ctx context.Context, env *environment, args []string) error {
	fs := flag.NewFlagSet("cache", flag.ContinueOnError)
	dirFlag := fs.String("cache-dir", "", "")
	maxSize := fs.String("max-size", "", "")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageError("takes one subcommand: stats, trim or verify")
	}
	dir, err := resolveCacheDir(env, *dirFlag)
	if err != nil {
		return err
	}
	c, err := store.Open(dir, store.Options{})
	if err != nil {
		return fmt.Errorf("opening the action cache %s: %w", dir, err)
	}
	switch args[0] {
	case "stats":
		st, err := c.Stats()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "cache %s\n", dir)
		fmt.Fprintf(env.stdout, "size     %s (%d blobs, %s of blob data)\n", formatSize(st.Size), st.Blobs, formatSize(st.BlobBytes))
		fmt.Fprintf(env.stdout, "entries  %d action results (%d of them in %d packs)\n", st.Entries, st.PackedEntries, st.Packs)
		if len(st.Builds) > 0 {
			fmt.Fprintln(env.stdout, "recent builds:")
			for _, b := range st.Builds {
				fmt.Fprintf(env.stdout, "  %s  %d hits, %d misses, %d stored\n", b.Time.Local().Format(time.DateTime), b.Hits, b.Misses, b.Stored)
			}
		}
	case "trim":
		if *maxSize == "" {
			return usageError("trim needs --max-size SIZE")
		}
		n, err := parseSize(*maxSize)
		if err != nil {
			return usageError(err.Error())
		}
		r, err := c.Trim(n)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "trimmed %s to %s: removed %d results, %d blobs\n",
			formatSize(r.Before), formatSize(r.After), r.RemovedEntries, r.RemovedBlobs)
	case "verify":
		r, err := c.Verify()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "checked %d blobs, %d results\n", r.Blobs, r.Entries)
		if !r.OK() {
			fmt.Fprintf(env.stdout, "removed: %d bad blobs, %d bad results, %d results with missing blobs\n",
				len(r.BadBlobs), len(r.BadEntries), len(r.DanglingEntries))
			return fmt.Errorf("the cache had damaged entries (now removed); builds will recompute them")
		}
		fmt.Fprintln(env.stdout, "ok")
	default:
		return usageError(fmt.Sprintf("unknown subcommand %q: want stats, trim or verify", args[0]))
	}
	return nil
}

// parseSize parses a byte count with an optional K, M, G or T suffix
// (powers of 1024), which may be followed by B or iB: 512M, 4GiB, 2GB.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if n := len(num); n > 2 && strings.EqualFold(num[n-2:], "ib") {
		num = num[:n-2]
	} else if n > 1 && (num[n-1] == 'B' || num[n-1] == 'b') && strings.ContainsRune("kKmMgGtT", rune(num[n-2])) {
		num = num[:n-1]
	}
	s, orig := num, s
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, num = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, num = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, num = 1<<30, s[:n-1]
		case 't', 'T':
			mult, num = 1<<40, s[:n-1]
		}
	}
	var v int64
	if _, err := fmt.Sscanf(num, "%d", &v); err != nil || v < 0 || fmt.Sprint(v) != num {
		return 0, fmt.Errorf("invalid size %q: want a number of bytes, optionally with K, M, G or T (KiB, MiB, GiB, TiB)", orig)
	}
	return v * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
