package heapgoal

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name string
		p    Policy
		live uint64
		want int
	}{
		{"execution, nothing live", Execution, 0, 400},
		{"execution, 1 MiB", Execution, 1 * mib, 400},  // 16 MiB of headroom would be 1600%
		{"execution, 2 MiB", Execution, 2 * mib, 200},  // the runtime's floor, 4 MiB
		{"execution, 4 MiB", Execution, 4 * mib, 100},  // the runtime's floor still
		{"execution, 10 MiB", Execution, 10 * mib, 40}, // the runtime's floor still
		{"execution, 16 MiB", Execution, 16 * mib, 25}, // a quarter from here on
		{"execution, 32 MiB", Execution, 32 * mib, 25},
		{"execution, 64 MiB", Execution, 64 * mib, 25},
		{"execution, 96 MiB", Execution, 96 * mib, 25},   // 24 MiB: MaxHeadroom from here on
		{"execution, 100 MiB", Execution, 100 * mib, 24}, // capped: not 25 MiB
		{"execution, 160 MiB", Execution, 160 * mib, 15}, // 24 MiB
		{"execution, 1 GiB", Execution, 1024 * mib, 10},  // CapShare: not 24 MiB
		{"max headroom below the runtime's floor", Policy{MinHeadroom: 16 * mib, MaxHeadroom: 1 * mib, Share: 25, MaxPercent: 400}, 100 * mib, 4},
		{"max headroom above the share", Policy{MinHeadroom: 16 * mib, MaxHeadroom: 64 * mib, Share: 25, MaxPercent: 400}, 100 * mib, 25},
		{"floor share, rounded down", Policy{MinHeadroom: 16 * mib, FloorShare: 50, Share: 25, MaxPercent: 400}, 48 * mib, 33},
		{"floor share, MinHeadroom", Policy{MinHeadroom: 16 * mib, FloorShare: 50, Share: 25, MaxPercent: 400}, 40 * mib, 40},
		{"analysis, 8 MiB", Analysis, 8 * mib, 200},   // no FloorShare: the whole 16 MiB
		{"analysis, 16 MiB", Analysis, 16 * mib, 100}, // as much as live from here on
		{"analysis, 32 MiB", Analysis, 32 * mib, 100},
		{"analysis, 300 MiB", Analysis, 300 * mib, 100},
		{"never 0", Policy{Share: 0, MaxPercent: 400}, 1 << 40, 1},
	} {
		if got := tt.p.Percent(tt.live); got != tt.want {
			t.Errorf("%s: Percent(%d MiB) = %d, want %d", tt.name, tt.live/mib, got, tt.want)
		}
	}
}

// TestPercentFrom: until the next collection, the goal is the heap as it
// is plus the headroom, expressed relative to the live data of the last
// collection.
func TestPercentFrom(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name       string
		p          Policy
		live, base uint64
		want       int
	}{
		{"base not larger: Percent", Execution, 64 * mib, 64 * mib, 25},
		{"base smaller: Percent", Execution, 64 * mib, 32 * mib, 25},
		// No collection yet: the goal is the runtime's floor, 4 MiB per
		// 100 of GOGC, set to 64 + 16 MiB.
		{"no collection yet: the floor", Execution, 0, 64 * mib, 2000},
		{"no collection yet, small heap: Percent", Execution, 0, 1 * mib, 425},
		// A collection measured less than the runtime's floor (HugePages
		// at the start): as none.
		{"a collection of a small heap: the floor", Execution, 1 * mib, 64 * mib, 2000},
		{"a collection of a small heap, base not larger: Percent", Execution, 1 * mib, 1 * mib, 400},
		{"loaded since", Execution, 140 * mib, 200 * mib, 78},         // goal 250 MiB
		{"small base: the floor", Execution, 20 * mib, 40 * mib, 180}, // goal 56 MiB
		{"capped", Execution, 10 * mib, 200 * mib, 400},
		{"analysis", Analysis, 100 * mib, 150 * mib, 200}, // goal 300 MiB
		// A base nobody measured gets the whole floor, not half of it.
		{"small base, FloorShare: the whole floor", Execution, 8 * mib, 12 * mib, 250}, // goal 28 MiB
	} {
		if got := tt.p.PercentFrom(tt.live, tt.base); got != tt.want {
			t.Errorf("%s: PercentFrom(%d MiB, %d MiB) = %d, want %d", tt.name, tt.live/mib, tt.base/mib, got, tt.want)
		}
	}
}

// TestFollowRestores checks that Follow sets GOGC from the policy while it
// runs and gives back the GOGC of before.
func TestFollowRestores(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(123)
	defer debug.SetGCPercent(prev)
	runtime.GC() // so that the live heap is known
	stop := Follow(Policy{MinHeadroom: 0, Share: 7, MaxPercent: 400})
	if got := debug.SetGCPercent(7); got != 7 {
		t.Errorf("GOGC while following = %d, want 7 (the share, live being non-zero)", got)
	}
	stop()
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("GOGC after stop = %d, want 123", got)
	}
}

// TestFollowLeavesUserSetting checks that a user's GOGC is left alone.
func TestFollowLeavesUserSetting(t *testing.T) {
	t.Setenv("GOGC", "150")
	prev := debug.SetGCPercent(150)
	defer debug.SetGCPercent(prev)
	stop := Follow(Analysis)
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GOGC = %d, want the user's 150", got)
	}
	stop()
}

// TestFollowNowIgnoresGarbage checks that FollowNow sets GOGC from the
// last collection's live data even when much was allocated since, where
// Follow takes the heap as it is for the base.
func TestFollowNowIgnoresGarbage(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(-1) // no collection while the garbage is made
	defer debug.SetGCPercent(prev)
	runtime.GC()
	p := Policy{MinHeadroom: 0, Share: 7, MaxPercent: 400}
	var garbage [][]byte
	for range 64 {
		garbage = append(garbage, make([]byte, 1<<20))
	}
	garbage = nil
	_ = garbage
	stop := Follow(p)
	follow := debug.SetGCPercent(-1)
	stop()
	stop = FollowNow(p)
	now := debug.SetGCPercent(-1)
	stop()
	if now != 7 {
		t.Errorf("GOGC under FollowNow = %d, want 7 (the share of the live data)", now)
	}
	if follow <= 7 {
		t.Errorf("GOGC under Follow = %d, want more than the share: 64 MB allocated since the collection are its base", follow)
	}
}

// TestFollowCollectedCollects checks that FollowCollected starts a
// collection and then sets GOGC from what it found live: the 64 MB of
// garbage made since the last collection is not the base, as with Follow.
func TestFollowCollectedCollects(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(-1) // no collection but FollowCollected's
	defer debug.SetGCPercent(prev)
	runtime.GC()
	p := Policy{MinHeadroom: 0, Share: 7, MaxPercent: 400}
	var garbage [][]byte
	for range 64 {
		garbage = append(garbage, make([]byte, 1<<20))
	}
	garbage = nil
	_ = garbage
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := FollowCollected(p, nil)
	defer stop()
	// Not a timing: the collection and the poll after it take
	// milliseconds; a minute means they never came.
	for deadline := time.Now().Add(time.Minute); gogc() != 7; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			t.Fatalf("GOGC = %d a minute after FollowCollected (collections %d -> %d), want 7: the share of what a collection found live", gogc(), before.NumGC, after.NumGC)
		}
	}
}

// TestFollowCollectedWaits checks that FollowCollected's collection waits
// for after to be closed: it forces no collection while it is open, and
// GOGC follows what the collection found once it is. (Forced collections
// are counted, not all: the goal Follow sets at its start is the heap
// plus a share of it, which the test's own allocations may reach under
// load, and such a collection is the runtime's, not FollowCollected's.)
func TestFollowCollectedWaits(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(-1) // no collection but FollowCollected's
	defer debug.SetGCPercent(prev)
	runtime.GC()
	p := Policy{MinHeadroom: 0, Share: 7, MaxPercent: 400}
	before := forcedCollections()
	after := make(chan struct{})
	stop := FollowCollected(p, after)
	defer stop()
	time.Sleep(100 * time.Millisecond) // several polls (poll)
	if mid := forcedCollections(); mid != before {
		t.Fatalf("%d collection(s) forced before after was closed, want none", mid-before)
	}
	close(after)
	for deadline := time.Now().Add(time.Minute); gogc() != 7; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC = %d a minute after after was closed, want 7: the share of what a collection found live", gogc())
		}
	}
}

// forcedCollections returns how many collections runtime.GC has run.
func forcedCollections() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// gogc returns GOGC without changing it.
func gogc() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestReserve checks that Reserve raises GOGC so that the runtime's floor
// of the goal covers the heap plus the reserve, and that the reserve ends
// by itself at the next collection, or at once with end.
func TestReserve(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(400)
	defer debug.SetGCPercent(prev)
	const n = 1 << 30
	end := Reserve(n)
	if got, min := gogc(), floorPercent(n); got < min {
		t.Fatalf("GOGC in the reserve = %d, want at least %d (a floor of 1 GiB)", got, min)
	}
	runtime.GC()
	// The reserve polls for the collection: wait for it (not a timing
	// assertion: the deadline only ends a test that would hang).
	deadline := time.Now().Add(30 * time.Second)
	for gogc() != 400 && time.Now().Before(deadline) {
		time.Sleep(poll)
	}
	if got := gogc(); got != 400 {
		t.Errorf("GOGC after a collection = %d, want 400 again", got)
	}
	end() // nothing left to do
	if got := gogc(); got != 400 {
		t.Errorf("GOGC after end = %d, want 400", got)
	}

	end = Reserve(n)
	end()
	if got := gogc(); got != 400 {
		t.Errorf("GOGC after end, no collection = %d, want 400", got)
	}
}

// TestReserveHandsOver checks that a Follow started during a reserve
// takes over, and that the reserve ends after that Follow stops (giving
// the reserve's GOGC back) and a collection runs.
func TestReserveHandsOver(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(400)
	defer debug.SetGCPercent(prev)
	end := Reserve(1 << 30)
	defer end()
	reserved := gogc()
	stop := Follow(Policy{MinHeadroom: 0, Share: 7, MaxPercent: 400})
	runtime.GC()
	time.Sleep(3 * poll) // let both pollers see the collection
	if got := gogc(); got == reserved || got == 400 {
		t.Errorf("GOGC while following = %d, want Follow's (not the reserve's %d, nor 400)", got, reserved)
	}
	stop()
	if got := gogc(); got != reserved {
		t.Errorf("GOGC after Follow stopped = %d, want the reserve's %d back", got, reserved)
	}
	runtime.GC()
	deadline := time.Now().Add(30 * time.Second)
	for gogc() != 400 && time.Now().Before(deadline) {
		time.Sleep(poll)
	}
	if got := gogc(); got != 400 {
		t.Errorf("GOGC after the next collection = %d, want 400", got)
	}
}

// TestReserveNeverLowers checks that a reserve smaller than what GOGC
// already allows, and a user's GOGC, are left alone.
func TestReserveNeverLowers(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(1 << 20)
	defer debug.SetGCPercent(prev)
	end := Reserve(1 << 20)
	if got := gogc(); got != 1<<20 {
		t.Errorf("GOGC = %d, want 1<<20 kept", got)
	}
	end()
	debug.SetGCPercent(150)
	t.Setenv("GOGC", "150")
	end = Reserve(1 << 30)
	if got := gogc(); got != 150 {
		t.Errorf("GOGC = %d, want the user's 150", got)
	}
	end()
}

// TestPercentAt: the goal is capped at the end share past the live data
// the phase is estimated to end with, the growth since the start extended
// to the work left.
func TestPercentAt(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name        string
		p           Policy
		live        uint64
		done, total int
		start       Start
		want        int
	}{
		{"no EndShare: Percent", Execution, 172 * mib, 100, 100, Start{100 * mib, 0}, 13}, // Percent: MaxHeadroom, 24 MiB
		{"nothing known: Percent", Analysis, 172 * mib, 0, 0, Start{}, 100},
		{"too little done past the start: Percent", Analysis, 172 * mib, 19, 100, Start{100 * mib, 0}, 100},
		// 100 MiB live half-way from 30: the end is estimated at 170,
		// the cap at 212.5, farther than Share's 100%.
		{"half-way: Share", Analysis, 100 * mib, 50, 100, Start{30 * mib, 0}, 100},
		// 150 MiB live half-way from 100: the end is estimated at 200,
		// the cap at 250: 100 MiB of headroom.
		{"half-way: the cap", Analysis, 150 * mib, 50, 100, Start{100 * mib, 0}, 67},
		// Est. 160+60*10/90 = 166.7 MiB, cap 208.3: 48.3 MiB of headroom.
		{"nine tenths", Analysis, 160 * mib, 90, 100, Start{100 * mib, 0}, 30},
		{"the end: EndShare", Analysis, 172 * mib, 100, 100, Start{100 * mib, 0}, 25},
		{"done past total counts as the end", Analysis, 172 * mib, 120, 100, Start{100 * mib, 0}, 25},
		// Ending with 27 MiB live: 25% scaled by 27/64 is below 15%.
		{"small: MinEndShare", Analysis, 27 * mib, 100, 100, Start{10 * mib, 10}, 15},
		// Ending with 48 MiB live: 25% * 48/64 = 18.75%, rounded.
		{"medium: scaled", Analysis, 48 * mib, 100, 100, Start{10 * mib, 10}, 19},
		// 15% of 18 MiB is below the runtime's floor: 4 MiB.
		{"shrunk since the start: no growth", Analysis, 18 * mib, 50, 100, Start{20 * mib, 0}, 22},
		// A quarter of 8 MiB is below the runtime's floor, 4 MiB.
		{"the floor", Analysis, 8 * mib, 100, 100, Start{4 * mib, 0}, 50},
	} {
		if got := tt.p.PercentAt(tt.live, tt.done, tt.total, tt.start); got != tt.want {
			t.Errorf("%s: PercentAt(%d MiB, %d, %d, %+v) = %d, want %d", tt.name, tt.live/mib, tt.done, tt.total, tt.start, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	var none *Progress
	none.Set(1, 2)
	if d, n := none.Get(); d != 0 || n != 0 {
		t.Errorf("nil Progress: Get() = %d, %d, want 0, 0", d, n)
	}
	var pr Progress
	if d, n := pr.Get(); d != 0 || n != 0 {
		t.Errorf("zero Progress: Get() = %d, %d, want 0, 0", d, n)
	}
	pr.Set(3, 10)
	if d, n := pr.Get(); d != 3 || n != 10 {
		t.Errorf("Get() = %d, %d, want 3, 10", d, n)
	}
	pr.Set(-1, 1<<40)
	if d, n := pr.Get(); d != 0 || n != 1<<32-1 {
		t.Errorf("Get() after Set(-1, 1<<40) = %d, %d, want 0, %d", d, n, 1<<32-1)
	}
}

// TestFollowProgress checks that the goal tightens as the work is done,
// without waiting for a collection, and that stop gives back the GOGC of
// before.
func TestFollowProgress(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetGCPercent(400)
	defer debug.SetGCPercent(prev)
	keep := make([]byte, 64<<20) // live data: a fifth of it is past the runtime's floor
	runtime.GC()
	garbage := make([]byte, 32<<20) // until the next collection, the goal is past it
	runtime.KeepAlive(garbage)
	var pr Progress
	stop := FollowProgress(Policy{Share: 50, EndShare: 20, MaxPercent: 400}, &pr)
	if got := gogc(); got <= 50 {
		t.Fatalf("GOGC before a collection = %d, want more than 50 (the heap as it is is the base)", got)
	}
	runtime.GC() // the start: nothing done yet
	// The follower polls: wait for it (not a timing assertion: the
	// deadline only ends a test that would hang).
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for gogc() != want && time.Now().Before(deadline) {
			time.Sleep(poll)
		}
		if got := gogc(); got != want {
			t.Errorf("GOGC = %d, want %d", got, want)
		}
	}
	waitFor(50) // Share: nothing known done
	pr.Set(10, 10)
	waitFor(20) // all done, no growth: the end share of what is live
	stop()
	if got := gogc(); got != 400 {
		t.Errorf("GOGC after stop = %d, want 400", got)
	}
	runtime.KeepAlive(keep)
}

// TestEstimateStart: the estimate starts from the last collection at
// least a fifth of the work back.
func TestEstimateStart(t *testing.T) {
	seen := []Start{{10, 0}, {20, 10}, {30, 30}, {35, 50}, {38, 60}}
	for _, tt := range []struct {
		done, total int
		want        Start
		ok          bool
	}{
		{70, 100, Start{35, 50}, true},
		{55, 100, Start{30, 30}, true},
		{25, 100, Start{10, 0}, true},
		{15, 100, Start{}, false}, // less than a fifth since the first
		{3, 4, Start{10, 0}, true},
		{70, 0, Start{}, false}, // the size of the work is not known
	} {
		got, ok := estimateStart(seen, tt.done, tt.total)
		if got != tt.want || ok != tt.ok {
			t.Errorf("estimateStart(%d of %d) = %+v, %v, want %+v, %v", tt.done, tt.total, got, ok, tt.want, tt.ok)
		}
	}
}

// TestAfterCollections checks that afterCollections calls f after each
// collection, in order, until f returns false, and never again after
// that.
func TestAfterCollections(t *testing.T) {
	calls := make(chan int, 100)
	n := 0
	stop := afterCollections(func() bool {
		n++
		calls <- n
		return n < 3
	})
	defer stop()
	for want := 1; want <= 3; want++ {
		runtime.GC()
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("call %d, want %d", got, want)
			}
		case <-time.After(time.Minute): // not a timing: only ends a test that would hang
			t.Fatalf("no call %d a minute after a collection", want)
		}
	}
	runtime.GC()
	runtime.GC()
	select {
	case got := <-calls:
		t.Errorf("call %d after f returned false", got)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestAfterCollectionsStop checks that no call of f starts once stop has
// returned.
func TestAfterCollectionsStop(t *testing.T) {
	calls := make(chan struct{}, 100)
	stop := afterCollections(func() bool {
		calls <- struct{}{}
		return true
	})
	runtime.GC()
	select {
	case <-calls:
	case <-time.After(time.Minute):
		t.Fatal("no call a minute after a collection")
	}
	stop()
	stop() // a second stop does nothing
	for len(calls) > 0 {
		<-calls // made before stop returned (the runtime's own collections)
	}
	runtime.GC()
	runtime.GC()
	select {
	case <-calls:
		t.Error("f called after stop returned")
	case <-time.After(100 * time.Millisecond):
	}
}
