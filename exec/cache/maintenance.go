package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"bld/exec/cache/digest"
)

// Maintenance: what `bld cache stats`, `bld cache trim` and `bld cache
// verify` do, and the automatic bound Close enforces. All of it is safe to
// run while builds use the cache: a file removed under a build makes that
// build miss, never read a wrong output (see the package comment).

// Stats describes the cache.
type Stats struct {
	Dir       string
	Size      int64 // bytes of blobs, action results and records
	Blobs     int
	BlobBytes int64
	Entries   int // action results
	Records   int // explain records
	// Builds are the most recent builds that used the cache, oldest first.
	Builds []BuildStats
}

// BuildStats counts one build's cache use.
type BuildStats struct {
	Time   time.Time `json:"time"`
	Hits   int       `json:"hits"`
	Misses int       `json:"misses"`
	Stored int64     `json:"stored"` // bytes added
}

// TrimReport says what Trim did.
type TrimReport struct {
	Before, After                                int64 // sizes in bytes
	RemovedEntries, RemovedBlobs, RemovedRecords int
}

// VerifyReport says what Verify found; everything it lists was removed.
type VerifyReport struct {
	Blobs, Entries, Records int // how many were checked
	// BadBlobs are blobs whose content did not match their name.
	BadBlobs []string
	// BadEntries are action results that did not verify or decode;
	// DanglingEntries those that named a blob no longer in the cache.
	BadEntries, DanglingEntries []string
	BadRecords                  []string
}

// OK reports whether Verify found nothing wrong.
func (r VerifyReport) OK() bool {
	return len(r.BadBlobs)+len(r.BadEntries)+len(r.DanglingEntries)+len(r.BadRecords) == 0
}

const maxBuildStats = 20

// statsFile is the JSON content of stats.json.
type statsFile struct {
	Size     int64        `json:"size"` // estimate, exact at LastScan
	LastScan time.Time    `json:"last_scan"`
	Builds   []BuildStats `json:"builds"`
}

func (c *Cache) readStatsFile() statsFile {
	var s statsFile
	data, err := os.ReadFile(filepath.Join(c.dir, "stats.json"))
	if err == nil {
		json.Unmarshal(data, &s)
	}
	return s
}

func (c *Cache) writeStatsFile(s statsFile) error {
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.dir, "stats.json"), data, 0o644)
}

// recordBuild adds this process's use to stats.json and trims the cache if
// it outgrew Options.MaxSize. The size is kept as an estimate (what each
// build added), made exact by a scan once a day and by every trim.
func (c *Cache) recordBuild() error {
	c.mu.Lock()
	b := BuildStats{Time: c.now(), Hits: c.hits, Misses: c.misses, Stored: c.added}
	c.mu.Unlock()
	if b.Hits+b.Misses == 0 && b.Stored == 0 {
		return nil
	}
	unlock, err := lockFile(filepath.Join(c.dir, "stats.lock"))
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer unlock()
	s := c.readStatsFile()
	if c.now().Sub(s.LastScan) > 24*time.Hour {
		inv, err := c.scan()
		if err != nil {
			return fmt.Errorf("cache: %w", err)
		}
		s.Size, s.LastScan = inv.size, c.now()
	} else {
		s.Size += b.Stored
	}
	s.Builds = append(s.Builds, b)
	if len(s.Builds) > maxBuildStats {
		s.Builds = s.Builds[len(s.Builds)-maxBuildStats:]
	}
	if c.opts.MaxSize > 0 && s.Size > c.opts.MaxSize {
		rep, err := c.trim(c.opts.MaxSize / 10 * 9)
		if err != nil {
			return fmt.Errorf("cache: trimming: %w", err)
		}
		s.Size, s.LastScan = rep.After, c.now()
	}
	return c.writeStatsFile(s)
}

// A cacheFile is one file found by scan.
type cacheFile struct {
	path  string
	hash  string
	size  int64
	mtime time.Time
}

// inventory is what scan finds.
type inventory struct {
	blobs, entries, records []cacheFile
	size                    int64
}

// scan lists the cache's files, removing temporary files abandoned more
// than tmpMaxAge ago (a process was killed before its rename).
func (c *Cache) scan() (*inventory, error) {
	inv := &inventory{}
	for _, kind := range []string{"cas", "ac", "explain"} {
		root := filepath.Join(c.dir, kind)
		err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed by a concurrent trim
				}
				return err
			}
			if de.IsDir() {
				return nil
			}
			fi, err := de.Info()
			if err != nil {
				return nil
			}
			name := de.Name()
			if strings.HasPrefix(name, tmpPrefix) {
				if c.now().Sub(fi.ModTime()) > tmpMaxAge {
					os.Remove(p)
				} else {
					inv.size += fi.Size()
				}
				return nil
			}
			if !digest.ValidHash(name) {
				return nil // not ours
			}
			f := cacheFile{path: p, hash: name, size: fi.Size(), mtime: fi.ModTime()}
			inv.size += f.size
			switch kind {
			case "cas":
				inv.blobs = append(inv.blobs, f)
			case "ac":
				inv.entries = append(inv.entries, f)
			default:
				inv.records = append(inv.records, f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// Stats returns the cache's size and contents, and the hits and misses of
// recent builds.
func (c *Cache) Stats() (Stats, error) {
	inv, err := c.scan()
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Dir: c.dir, Size: inv.size, Blobs: len(inv.blobs), Entries: len(inv.entries), Records: len(inv.records)}
	for _, b := range inv.blobs {
		s.BlobBytes += b.size
	}
	s.Builds = c.readStatsFile().Builds
	return s, nil
}

// Trim removes the least recently used action results, explain records
// and blobs until the cache is at most maxSize bytes. A blob goes when the
// last action result naming it goes (or, named by none, by its own use
// time). A build restoring a blob that Trim removes sees a miss.
func (c *Cache) Trim(maxSize int64) (TrimReport, error) {
	unlock, err := lockFile(filepath.Join(c.dir, "stats.lock"))
	if err != nil {
		return TrimReport{}, err
	}
	defer unlock()
	rep, err := c.trim(maxSize)
	if err != nil {
		return rep, err
	}
	s := c.readStatsFile()
	s.Size, s.LastScan = rep.After, c.now()
	return rep, c.writeStatsFile(s)
}

func (c *Cache) trim(maxSize int64) (TrimReport, error) {
	inv, err := c.scan()
	if err != nil {
		return TrimReport{}, err
	}
	rep := TrimReport{Before: inv.size, After: inv.size}
	if inv.size <= maxSize {
		return rep, nil
	}
	blobs := map[string]cacheFile{}
	for _, b := range inv.blobs {
		blobs[b.hash] = b
	}
	refs := map[string]int{}
	entryRefs := map[string][]string{}
	for _, e := range inv.entries {
		data, err := os.ReadFile(e.path)
		if err != nil {
			continue
		}
		r, err := parseAC(data)
		if err != nil {
			continue // an unreadable entry goes first: its time is its own
		}
		for _, d := range blobsOf(r) {
			entryRefs[e.path] = append(entryRefs[e.path], d.Hash)
			refs[d.Hash]++
		}
	}
	type item struct {
		f    cacheFile
		kind int // 0 entry, 1 blob, 2 record
	}
	var items []item
	for _, e := range inv.entries {
		items = append(items, item{e, 0})
	}
	for _, b := range inv.blobs {
		if refs[b.hash] == 0 {
			items = append(items, item{b, 1})
		}
	}
	for _, r := range inv.records {
		items = append(items, item{r, 2})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].f.mtime.Before(items[j].f.mtime) })
	remove := func(f cacheFile) {
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			rep.After -= f.size
		}
	}
	for _, it := range items {
		if rep.After <= maxSize {
			break
		}
		remove(it.f)
		switch it.kind {
		case 0:
			rep.RemovedEntries++
			for _, h := range entryRefs[it.f.path] {
				refs[h]--
				if b, ok := blobs[h]; ok && refs[h] == 0 {
					delete(blobs, h)
					remove(b)
					rep.RemovedBlobs++
				}
			}
		case 1:
			if _, ok := blobs[it.f.hash]; ok {
				delete(blobs, it.f.hash)
				rep.RemovedBlobs++
			}
		case 2:
			rep.RemovedRecords++
		}
	}
	return rep, nil
}

// Verify reads every blob, action result and explain record, and removes
// those that are damaged: blobs whose content does not match their name,
// action results that do not verify or that name a missing blob, records
// that do not decode.
func (c *Cache) Verify() (VerifyReport, error) {
	var rep VerifyReport
	inv, err := c.scan()
	if err != nil {
		return rep, err
	}
	present := map[string]bool{}
	for _, b := range inv.blobs {
		rep.Blobs++
		d, err := digest.OfFile(b.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || d.Hash != b.hash {
			os.Remove(b.path)
			rep.BadBlobs = append(rep.BadBlobs, b.hash)
			continue
		}
		present[b.hash] = true
	}
	for _, e := range inv.entries {
		data, err := os.ReadFile(e.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		rep.Entries++
		r, err := parseAC(data)
		if err != nil {
			os.Remove(e.path)
			rep.BadEntries = append(rep.BadEntries, e.hash)
			continue
		}
		for _, d := range blobsOf(r) {
			if !present[d.Hash] {
				if _, err := os.Stat(c.blobPath(d.Hash)); err == nil {
					continue // stored since the scan
				}
				os.Remove(e.path)
				rep.DanglingEntries = append(rep.DanglingEntries, e.hash)
				break
			}
		}
	}
	for _, r := range inv.records {
		rep.Records++
		if _, err := readRecord(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.Remove(r.path)
			rep.BadRecords = append(rep.BadRecords, r.hash)
		}
	}
	return rep, nil
}
