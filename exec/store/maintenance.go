package store

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"bld/exec/digest"
)

// Maintenance: what `bld cache stats`, `bld cache trim` and `bld cache
// verify` do, and the automatic bound RecordBuild enforces. All of it is
// safe to run while builds use the store: a file removed under a build
// makes that build miss, never read wrong content.

// Stats describes the store.
type Stats struct {
	Dir       string
	Size      int64 // bytes of blobs and entries
	Blobs     int
	BlobBytes int64
	Entries   int // entry files and packed entries (one per key)
	// Packs counts the pack files, PackedEntries the keys they hold.
	Packs, PackedEntries int
	// Builds are the most recent builds that used the store, oldest first.
	Builds []BuildStats
}

// BuildStats counts one build's use of the store.
type BuildStats struct {
	Time   time.Time `json:"time"`
	Hits   int       `json:"hits"`
	Misses int       `json:"misses"`
	Stored int64     `json:"stored"` // bytes added
}

// TrimReport says what Trim did.
type TrimReport struct {
	Before, After                int64 // sizes in bytes
	RemovedEntries, RemovedBlobs int
}

// VerifyReport says what Verify found; everything it lists was removed.
type VerifyReport struct {
	Blobs, Entries int // how many were checked
	// BadBlobs are blobs whose content did not match their name.
	BadBlobs []string
	// BadEntries are entries that did not verify; DanglingEntries those
	// that referred to a blob no longer in the store.
	BadEntries, DanglingEntries []string
}

// OK reports whether Verify found nothing wrong.
func (r VerifyReport) OK() bool {
	return len(r.BadBlobs)+len(r.BadEntries)+len(r.DanglingEntries) == 0
}

const maxBuildStats = 20

// statsFile is the JSON content of stats.json.
type statsFile struct {
	Size     int64        `json:"size"` // estimate, exact at LastScan
	LastScan time.Time    `json:"last_scan"`
	Builds   []BuildStats `json:"builds"`
}

func (s *Store) readStatsFile() statsFile {
	var sf statsFile
	data, err := os.ReadFile(filepath.Join(s.dir, "stats.json"))
	if err == nil {
		json.Unmarshal(data, &sf)
	}
	return sf
}

func (s *Store) writeStatsFile(sf statsFile) error {
	data, err := json.MarshalIndent(sf, "", "\t")
	if err != nil {
		return err
	}
	return WriteFileVia(filepath.Join(s.dir, "stats.json"), s.tempDir(), data, 0o644)
}

// lockStats takes the lock that serializes stats.json updates and trims,
// creating the store's directory if needed.
func (s *Store) lockStats() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o777); err != nil {
		return nil, err
	}
	return lockFile(filepath.Join(s.dir, "stats.lock"))
}

// RecordBuild adds one build's use to stats.json: hits and misses as the
// caller counted them, and the bytes this Store added. It then trims the
// store to 90% of Options.MaxSize if it outgrew it. The size is kept as
// an estimate (what each build added), made exact by a scan once a day
// and by every trim. A build that neither hit, missed nor stored is not
// recorded. Its errors are Faults.
//
// It first seals this Store's pack (writes its index and releases it, so
// that maintenance may merge it: later entries go to a new pack), and
// after recording, indexes the packs whose writer was killed and merges
// the idle packs into one when there are more than 16 or when this Store
// found a damaged packed entry (the merge leaves it out).
func (s *Store) RecordBuild(hits, misses int) error {
	s.mu.Lock()
	sealErr := s.sealLocked()
	b := BuildStats{Time: s.now(), Hits: hits, Misses: misses, Stored: s.added}
	s.added = 0
	s.mu.Unlock()
	if b.Hits+b.Misses == 0 && b.Stored == 0 {
		return sealErr
	}
	unlock, err := s.lockStats()
	if err != nil {
		return fault("lock", filepath.Join(s.dir, "stats.lock"), err)
	}
	defer unlock()
	sf := s.readStatsFile()
	if s.now().Sub(sf.LastScan) > 24*time.Hour {
		inv, err := s.scan()
		if err != nil {
			return fault("scan", s.dir, err)
		}
		sf.Size, sf.LastScan = inv.size, s.now()
	} else {
		sf.Size += b.Stored
	}
	if delta, err := s.tidyPacks(); err == nil {
		sf.Size += delta
	} else {
		sealErr = errors.Join(sealErr, fault("merge", filepath.Join(s.dir, packDir), err))
	}
	sf.Builds = append(sf.Builds, b)
	if len(sf.Builds) > maxBuildStats {
		sf.Builds = sf.Builds[len(sf.Builds)-maxBuildStats:]
	}
	if s.opts.MaxSize > 0 && sf.Size > s.opts.MaxSize {
		rep, err := s.trim(s.opts.MaxSize / 10 * 9)
		if err != nil {
			return fault("trim", s.dir, err)
		}
		sf.Size, sf.LastScan = rep.After, s.now()
	}
	return errors.Join(sealErr, fault("write", filepath.Join(s.dir, "stats.json"), s.writeStatsFile(sf)))
}

// A storeFile is one file found by scan.
type storeFile struct {
	path  string
	hash  string
	size  int64
	mtime time.Time
}

// inventory is what scan finds.
type inventory struct {
	blobs, entries []storeFile
	// notFiles are directories and other non-files where blobs
	// (notFileBlobs) and entries (notFileEntries) should be.
	notFileBlobs, notFileEntries []storeFile
	size                         int64
}

// scan lists the store's files, removing temporary files abandoned more
// than tmpMaxAge ago (a process was killed before its rename).
func (s *Store) scan() (*inventory, error) {
	inv := &inventory{}
	packs, _, err := s.listPacks()
	if err != nil {
		return nil, err
	}
	for _, p := range packs {
		inv.size += p.size
		if fi, err := os.Stat(s.indexPath(p.name)); err == nil {
			inv.size += fi.Size()
		}
	}
	for _, kind := range []string{casDir, acDir} {
		root := filepath.Join(s.dir, kind)
		err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed by a concurrent trim
				}
				return err
			}
			name := de.Name()
			atFile := filepath.Dir(filepath.Dir(p)) == root // kind/XX/NAME
			if atFile && !de.Type().IsRegular() && digest.ValidHash(name) {
				f := storeFile{path: p, hash: name}
				if kind == casDir {
					inv.notFileBlobs = append(inv.notFileBlobs, f)
				} else {
					inv.notFileEntries = append(inv.notFileEntries, f)
				}
				if de.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if de.IsDir() {
				return nil
			}
			fi, err := de.Info()
			if err != nil {
				return nil
			}
			if strings.HasPrefix(name, tmpPrefix) {
				if s.now().Sub(fi.ModTime()) > tmpMaxAge {
					os.Remove(p)
				} else {
					inv.size += fi.Size()
				}
				return nil
			}
			if !digest.ValidHash(name) {
				return nil // not ours
			}
			f := storeFile{path: p, hash: name, size: fi.Size(), mtime: fi.ModTime()}
			inv.size += f.size
			if kind == casDir {
				inv.blobs = append(inv.blobs, f)
			} else {
				inv.entries = append(inv.entries, f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// Stats returns the store's size and contents, and the hits and misses
// of recent builds.
func (s *Store) Stats() (Stats, error) {
	inv, err := s.scan()
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Dir: s.dir, Size: inv.size, Blobs: len(inv.blobs), Entries: len(inv.entries)}
	for _, b := range inv.blobs {
		st.BlobBytes += b.size
	}
	ip, err := s.readPacks()
	if err != nil {
		return Stats{}, err
	}
	ip.close()
	keys := map[[32]byte]bool{}
	for _, pe := range ip.entries {
		if !pe.bad {
			keys[pe.key] = true
		}
	}
	st.Packs, st.PackedEntries = len(ip.packs)+ip.live, len(keys)
	st.Entries += len(keys)
	st.Builds = s.readStatsFile().Builds
	return st, nil
}

// Trim removes the least recently used entries and blobs until the store
// is at most maxSize bytes. A blob goes when the last entry referring to
// it goes (or, referred to by none, by its own use time). A reader of a
// blob that Trim removes sees ErrMissing; a writer of an entry meanwhile
// stores nothing (ErrNotStored, see putlock.go), so that no entry is left
// referring to a blob Trim removed.
//
// Trim and Verify first seal this Store's pack (see RecordBuild).
func (s *Store) Trim(maxSize int64) (TrimReport, error) {
	s.seal()
	unlock, err := s.lockStats()
	if err != nil {
		return TrimReport{}, err
	}
	defer unlock()
	rep, err := s.trim(maxSize)
	if err != nil {
		return rep, err
	}
	sf := s.readStatsFile()
	sf.Size, sf.LastScan = rep.After, s.now()
	return rep, s.writeStatsFile(sf)
}

func (s *Store) trim(maxSize int64) (TrimReport, error) {
	// From the scan to the last removal, no entry is written (putlock.go).
	unlock, err := s.lockPuts()
	if err != nil {
		return TrimReport{}, err
	}
	defer unlock()
	inv, err := s.scan()
	if err != nil {
		return TrimReport{}, err
	}
	rep := TrimReport{Before: inv.size, After: inv.size}
	if inv.size <= maxSize {
		return rep, nil
	}
	ip, err := s.readPacks()
	if err != nil {
		return rep, err
	}
	defer ip.close()
	blobs := map[string]storeFile{}
	for _, b := range inv.blobs {
		blobs[b.hash] = b
	}
	refs := map[string]int{}
	entryRefs := map[string][]string{}
	for _, e := range inv.entries {
		data, _, err := readStoreFile(e.path)
		if err != nil {
			continue
		}
		ent, err := decodeEntry(data)
		if err != nil {
			continue // an unreadable entry goes first: its time is its own
		}
		for _, d := range ent.Refs {
			entryRefs[e.path] = append(entryRefs[e.path], d.Hash)
			refs[d.Hash]++
		}
	}
	// Packed records: older copies of a key and damaged records go in
	// any case (the rewrite drops them); the others are items like entry
	// files, by their own use time. Records of packs being written keep
	// their blobs and are not items.
	dropped := ip.superseded()
	for _, pe := range ip.entries {
		if pe.bad && pe.pack >= 0 {
			dropped[pe] = true
		}
	}
	for _, pe := range ip.entries {
		if pe.bad || dropped[pe] {
			continue
		}
		for _, h := range pe.refs {
			refs[h]++
		}
	}
	type item struct {
		f      storeFile
		packed *packedEntry // a packed record rather than a file
		blob   bool
	}
	var items []item
	for _, e := range inv.entries {
		items = append(items, item{f: e})
	}
	for _, pe := range ip.entries {
		if pe.pack >= 0 && !pe.bad && !dropped[pe] {
			items = append(items, item{f: storeFile{size: pe.size, mtime: time.Unix(0, pe.used)}, packed: pe})
		}
	}
	for _, b := range inv.blobs {
		if refs[b.hash] == 0 {
			items = append(items, item{f: b, blob: true})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].f.mtime.Before(items[j].f.mtime) })
	for pe := range dropped {
		if pe.pack >= 0 {
			rep.After -= pe.size
		}
	}
	remove := func(f storeFile) {
		if err := os.Remove(f.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			rep.After -= f.size
		}
	}
	release := func(hashes []string) {
		for _, h := range hashes {
			refs[h]--
			if b, ok := blobs[h]; ok && refs[h] == 0 {
				delete(blobs, h)
				remove(b)
				rep.RemovedBlobs++
			}
		}
	}
	for _, it := range items {
		if rep.After <= maxSize {
			break
		}
		switch {
		case it.blob:
			remove(it.f)
			if _, ok := blobs[it.f.hash]; ok {
				delete(blobs, it.f.hash)
				rep.RemovedBlobs++
			}
		case it.packed != nil:
			dropped[it.packed] = true
			rep.After -= it.f.size
			rep.RemovedEntries++
			release(it.packed.refs)
		default:
			remove(it.f)
			rep.RemovedEntries++
			release(entryRefs[it.f.path])
		}
	}
	if len(dropped) > 0 {
		if _, err := s.rewrite(ip, func(pe *packedEntry) bool { return !dropped[pe] }); err != nil {
			return rep, err
		}
	}
	if inv, err := s.scan(); err == nil {
		rep.After = inv.size
	}
	return rep, nil
}

// Verify reads every blob and entry, and removes those that are damaged:
// blobs that cannot be read or whose content does not match their name,
// entries that cannot be read, do not verify or refer to a missing blob,
// and directories or other non-files where a blob or entry should be. It
// lists them all in its report; the error says what it could not scan or
// remove. Packed entries are verified likewise, and the idle packs are
// rewritten without the damaged ones (a record whose framing is damaged
// is lost with those after it in its pack, as readers lose them); packs
// being written are left to their writer.
func (s *Store) Verify() (VerifyReport, error) {
	s.seal()
	var rep VerifyReport
	inv, err := s.scan()
	if err != nil {
		return rep, err
	}
	var errs []error
	remove := func(f storeFile, list *[]string) {
		*list = append(*list, f.hash)
		if err := os.RemoveAll(f.path); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", f.path, err))
		}
	}
	for _, f := range inv.notFileBlobs {
		rep.Blobs++
		remove(f, &rep.BadBlobs)
	}
	for _, f := range inv.notFileEntries {
		rep.Entries++
		remove(f, &rep.BadEntries)
	}
	present := map[string]bool{}
	for _, b := range inv.blobs {
		rep.Blobs++
		d, err := digest.OfFile(b.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || d.Hash != b.hash {
			remove(b, &rep.BadBlobs)
			continue
		}
		present[b.hash] = true
	}
	has := func(h string) bool {
		if present[h] {
			return true
		}
		fi, err := os.Stat(s.blobPath(h))
		return err == nil && fi.Mode().IsRegular() // stored since the scan
	}
	for _, e := range inv.entries {
		data, _, err := readStoreFile(e.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		rep.Entries++
		var ent Entry
		if err == nil {
			ent, err = decodeEntry(data)
		}
		if err != nil {
			remove(e, &rep.BadEntries)
			continue
		}
		for _, d := range ent.Refs {
			if !has(d.Hash) {
				remove(e, &rep.DanglingEntries)
				break
			}
		}
	}
	_, notFiles, err := s.listPacks()
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	for _, p := range notFiles {
		rep.Entries++
		remove(storeFile{path: p, hash: filepath.Base(p)}, &rep.BadEntries)
		os.Remove(strings.TrimSuffix(p, packExt) + indexExt)
	}
	ip, err := s.readPacks()
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	defer ip.close()
	drop := map[*packedEntry]bool{}
	for _, pe := range ip.entries {
		if pe.pack < 0 {
			continue
		}
		rep.Entries++
		name := ip.packs[pe.pack].name + ":" + hex.EncodeToString(pe.key[:])
		if pe.bad {
			drop[pe] = true
			rep.BadEntries = append(rep.BadEntries, ip.packs[pe.pack].name)
			continue
		}
		for _, h := range pe.refs {
			if !has(h) {
				drop[pe] = true
				rep.DanglingEntries = append(rep.DanglingEntries, name)
				break
			}
		}
	}
	if len(drop) > 0 {
		if _, err := s.rewrite(ip, func(pe *packedEntry) bool { return !drop[pe] }); err != nil {
			errs = append(errs, fmt.Errorf("rewriting the packs: %w", err))
		}
	}
	return rep, errors.Join(errs...)
}
