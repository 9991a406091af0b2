package cache

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "explain", "records")
	id := func(c byte) string { return strings.Repeat(string(c), 64) }
	l := newRecordLog(path)
	if _, err := l.get(id('a')); !os.IsNotExist(err) {
		t.Fatalf("get from no log: %v, want not exist", err)
	}
	for i := range 500 {
		if err := l.put(id('a'), &record{Key: "a" + string(rune('0'+i%10))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.put(id('b'), &record{Key: "b", Argv: []string{"cc", "-c"}}); err != nil {
		t.Fatal(err)
	}
	check := func(l *recordLog, c byte, want *record) {
		t.Helper()
		got, err := l.get(id(c))
		if err != nil {
			t.Fatalf("get %c: %v", c, err)
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(record{})); diff != "" {
			t.Errorf("record %c (-want +got):\n%s", c, diff)
		}
	}
	check(l, 'a', &record{Key: "a9"})
	// Appends after the first read are indexed too.
	l.put(id('a'), &record{Key: "latest"})
	check(l, 'a', &record{Key: "latest"})
	before, _ := os.Stat(path)
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size() {
		t.Errorf("close did not compact: %d bytes before, %d after", before.Size(), after.Size())
	}

	// A torn last line (bld killed while appending) is ignored.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(id('a') + ` {"key":"tor`)
	f.Close()
	l2 := newRecordLog(path)
	check(l2, 'a', &record{Key: "latest"})
	check(l2, 'b', &record{Key: "b", Argv: []string{"cc", "-c"}})
	l2.put(id('c'), &record{Key: "c"})
	l2.close()
	// The record appended after the torn line starts a line of its own.
	l3 := newRecordLog(path)
	check(l3, 'c', &record{Key: "c"})
	check(l3, 'b', &record{Key: "b", Argv: []string{"cc", "-c"}})
	l3.close()

	// A log past compactUnread that nothing was appended to (a no-op
	// build) is not read at close; one appended to is, and compacted.
	small := func() *recordLog {
		l := newRecordLog(path)
		l.unreadMax = 1 << 10
		return l
	}
	big := newRecordLog(path)
	for i := range 100 {
		big.put(id('d'), &record{Key: strings.Repeat("x", 100) + string(rune('0'+i%10))})
	}
	big.close() // past 2 times its live lines, but short of compactUnread
	grown, _ := os.Stat(path)
	idle := small()
	if err := idle.close(); err != nil || idle.loaded {
		t.Errorf("close of a log nothing was appended to: %v, loaded %v", err, idle.loaded)
	}
	busy := small()
	busy.put(id('e'), &record{Key: "e"})
	if err := busy.close(); err != nil || !busy.loaded {
		t.Errorf("close of a log appended to: %v, loaded %v", err, busy.loaded)
	}
	if after, _ := os.Stat(path); after.Size() >= grown.Size() {
		t.Errorf("close did not compact a grown log: %d bytes before, %d after", grown.Size(), after.Size())
	}
}

// Records are written in batches: put keeps up to flushAt bytes of lines,
// get and close write them first, and what a killed build had not written
// is simply not there (a hint lost).
func TestRecordLogBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "explain", "records")
	id := func(i int) string { return fmt.Sprintf("%064x", i) } // as outputsID's: hex

	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	l := newRecordLog(path)
	l.put(id(0), &record{Key: "k0"})
	if got := size(); got != 0 {
		t.Errorf("the log has %d bytes after one put, want none yet", got)
	}
	// Enough records to pass flushAt: some are written, the rest wait.
	n := 0
	for size() == 0 {
		n++
		l.put(id(n), &record{Key: "k", Argv: []string{strings.Repeat("x", 1000)}})
		if n > 2*flushAt/1000 {
			t.Fatalf("%d records put and nothing written", n)
		}
	}
	if got := size(); got < flushAt {
		t.Errorf("first write of %d bytes, want at least %d", got, flushAt)
	}
	l.put(id(n+1), &record{Key: "last"})
	written := size()
	// A killed build: another reader sees what was written, whole lines.
	other := newRecordLog(path)
	if r, err := other.get(id(0)); err != nil || r.Key != "k0" {
		t.Errorf("another reader: record 0 = %+v, %v", r, err)
	}
	if _, err := other.get(id(n + 1)); !os.IsNotExist(err) {
		t.Errorf("another reader: a record not yet written: %v, want not exist", err)
	}
	// get writes what waits before it reads.
	if r, err := l.get(id(n + 1)); err != nil || r.Key != "last" {
		t.Errorf("get of the last record = %+v, %v", r, err)
	}
	if size() <= written {
		t.Errorf("get did not write the pending records")
	}
	l.put(id(n+2), &record{Key: "after get"})
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	again := newRecordLog(path)
	for i, want := range map[int]string{0: "k0", 1: "k", n + 1: "last", n + 2: "after get"} {
		if r, err := again.get(id(i)); err != nil || r.Key != want {
			t.Errorf("after close: record %d = %+v, %v; want key %s", i, r, err, want)
		}
	}
}

// TestParseLogID: an outputs ID is indexed by its bytes, read from
// lowercase hex only, so that two IDs are one key exactly when they are
// one string.
func TestParseLogID(t *testing.T) {
	id := outputsID([]string{"bld-out/a", "bld-out/b"})
	k, ok := parseLogID(id)
	if !ok || hex.EncodeToString(k[:]) != id {
		t.Fatalf("parseLogID(%q) = %x, %v", id, k, ok)
	}
	if kb, ok := parseLogID([]byte(id)); !ok || kb != k {
		t.Errorf("parseLogID of the bytes = %x, %v; of the string %x", kb, ok, k)
	}
	for _, bad := range []string{"", id[:62], id + "0", strings.ToUpper(id), id[:63] + "g", id[:63] + " "} {
		if _, ok := parseLogID(bad); ok {
			t.Errorf("parseLogID(%q) accepted it", bad)
		}
	}
}
