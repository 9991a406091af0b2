package cache

import (
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
