// Package heapgoal is bld's one policy for how far the Go heap may grow
// past its live data between collections, for every phase of a build.
//
// bld runs with GOGC=400 (cmd/bld), which lets the heap grow to five times
// its live data before a collection. That is cheap in CPU but sets the
// process's peak memory: during analysis the live data is the targets,
// their providers and the actions (about 4 KB per target), and four times
// that again is garbage nobody needs; during execution the live data is the
// action graph and the cache's indexes. So while a phase runs, Follow sets
// GOGC after every collection so that the heap may grow past its live data
// by the phase's headroom only: a share of the live data, and at least a
// floor, so that a small heap is not collected over and over.
//
// The headroom trades CPU for memory: a collection costs in proportion to
// what is live, and the number of collections in proportion to what is
// allocated over the headroom. Analysis allocates much per byte it keeps
// (parsing, Starlark frames, ctx objects), so its share is larger than
// execution's, which allocates little.
package heapgoal

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"bld/exec/crash"
)

// A Policy sizes the headroom of the heap from its live data: Share percent
// of it, at least a floor, and GOGC at most MaxPercent (bld's default).
// The floor is MinHeadroom bytes, or, when FloorShare is not 0 and a
// collection has measured the live data, at most FloorShare percent of it
// (but never below the runtime's own floor, 4 MiB): a collection costs in
// proportion to what is live, so a floor that scales with a small live
// heap costs per byte allocated what a large heap's does, while a fixed
// one lets a small heap grow far past its live data.
//
// With a MaxHeadroom, the headroom is at most that many bytes, but at
// least CapShare percent of the live data (and the runtime's floor): for
// a phase whose peak is its largest live data plus the headroom, a large
// heap's share is many megabytes of peak, while the collections a smaller
// headroom adds cost in proportion to the live data; CapShare keeps a
// very large heap from being collected every few megabytes allocated.
//
// EndShare, when not 0, is for a phase whose live data grows with its work
// (analysis: it keeps about as much per target) and whose follower is told
// how far it is (FollowProgress). Its peak is at its end, so the goal is at
// most an end share past the live data the phase is estimated to end with
// (PercentAt; at least minFloor past what is live). The end share is
// EndShare percent, or, for a phase estimated to end with less than
// EndFullAt bytes live, that share scaled down by the estimate over
// EndFullAt, at least MinEndShare: a collection of a small heap is cheap
// (at 10,000 targets, ~20 MB live: about 10 ms of CPU), and a fixed
// share's extra collections cost in proportion to the live data. Early
// on, the estimate is far above what is live and Share rules; towards the
// end the cap does: the peak is about (100+end share) percent of the final
// live data instead of (100+Share), for more collections in the later
// part of the phase only.
type Policy struct {
	MinHeadroom uint64
	MaxHeadroom uint64
	CapShare    uint64
	FloorShare  uint64
	Share       uint64
	EndShare    uint64
	EndFullAt   uint64
	MinEndShare uint64
	MaxPercent  int
}

// The policies of bld's phases.
var (
	// Analysis is loading and analysis (and what Starlark runs for bld
	// query): the heap may grow by as much as its live data (Go's default
	// trade), at least 16 MiB. Half that was measured at 100k targets:
	// 0.83x the peak for 1.15x the CPU (docs/benchmarks.md), not worth it.
	//
	// With a Progress (FollowProgress), the goal is at most 25% past the
	// live data the analysis is estimated to end with (EndShare), less
	// for an analysis ending with less than 64 MiB live, at least 15%
	// (MinEndShare, EndFullAt; and at least the runtime's floor, 4 MiB):
	// at 10,000 targets, analysis was the build's peak, the heap reaching
	// 35 MB for 20 MB live; at 100,000, 290 MB for 172 MB
	// (docs/benchmarks.md, "Peak memory: analysis' heap follows its
	// progress"). Half past it (EndShare 50) left analysis' heap at
	// 100,000 targets ~30 MB above the one at the end of execution,
	// which a quarter past its live data sets (docs/benchmarks.md, mem6).
	// 35% left it at 100,000 targets above that end once execution's
	// headroom was capped (247 MiB of RSS under load, --nobuild); 25%
	// takes 11-12 MiB off for more CPU in a 100,000-target analysis (~7%
	// quiet, ~13% under load), nothing at 10,000 (MinEndShare rules
	// there) (docs/benchmarks.md, mem7 and the tenth session's check).
	Analysis = Policy{MinHeadroom: 16 << 20, Share: 100, EndShare: 25, EndFullAt: 64 << 20, MinEndShare: 15, MaxPercent: 400}
	// Execution is while actions run, and from the end of a complete
	// analysis to the plan (the index, the graph's checks, the
	// snapshot's encoding, which keep much of what they allocate): a
	// quarter of the live data, at least 4 MiB (the floor of 16 MiB is
	// PercentFrom's, for a base no collection measured). Execution allocates
	// little per action, and the live data of a build of 10,000 actions
	// grows from 9 to 20 MB (the action cache's records): a floor of 16
	// MiB let the heap grow to 36 MB at the build's end, half the live
	// data to 30 MB, as high as analysis' peak, to save collections of a
	// few milliseconds each over a build of minutes (docs/benchmarks.md,
	// "execution's heap follows its live data" and "Peak memory:
	// analysis' heap follows its progress").
	//
	// The headroom is at most 24 MiB, or a tenth of the live data if that
	// is more (MaxHeadroom, CapShare): a build's live data grows with its
	// actions (the action cache's records, ~800 bytes an action), so its
	// peak is at its end, where a quarter of ~150 MB at 100,000 actions
	// let the heap reach ~190 MB (RSS 259 MiB with the pages beside it).
	// Capped at 20 MiB, RSS there was 233 MiB, for 1.4x the collections
	// (each marks all that is live); 24 MiB is about as low as analysis'
	// peak, for fewer. A build of less than 96 MB live (10,000 actions:
	// 20 MB) is not affected (docs/benchmarks.md, mem7).
	Execution = Policy{MinHeadroom: 16 << 20, MaxHeadroom: 24 << 20, CapShare: 10, FloorShare: 25, Share: 25, MaxPercent: 400}
)

// minFloor is the smallest floor a FloorShare gives: the Go runtime's own
// (heapFloorUnit), below which it does not collect at GOGC=100 anyway.
const minFloor = heapFloorUnit

// Percent is the GOGC that lets a heap of live bytes of live data, as a
// collection measured it, grow by its headroom, max(floor, live*Share/100),
// as a percentage of live, at most MaxPercent (and at least 1). The floor
// is MinHeadroom, or min(MinHeadroom, max(minFloor, live*FloorShare/100))
// with a FloorShare. With a MaxHeadroom, a headroom past it is cut to
// max(MaxHeadroom, live*CapShare/100, minFloor).
func (p Policy) Percent(live uint64) int {
	if live == 0 {
		return p.MaxPercent
	}
	floor := p.MinHeadroom
	if p.FloorShare > 0 {
		floor = min(floor, max(minFloor, live*p.FloorShare/100))
	}
	percent := p.Share
	if live*p.Share/100 < floor {
		percent = floor * 100 / live
	}
	if p.MaxHeadroom > 0 && live*percent/100 > p.MaxHeadroom {
		percent = min(percent, max(max(p.MaxHeadroom, minFloor)*100/live, p.CapShare))
	}
	return max(1, int(min(percent, uint64(p.MaxPercent))))
}

// estimateStart returns the collection of seen (in the order they ran)
// that an estimate of the live data at the end of a phase done of total
// units through its work starts from: the last one at least
// 1/minEstimate of the work before, so that the growth measured is recent
// (the live data of analysis grows faster early, while it still loads
// packages, than later, while it releases them) but not noise. False if
// there is none.
func estimateStart(seen []Start, done, total int) (Start, bool) {
	if total <= 0 {
		return Start{}, false
	}
	for i := len(seen) - 1; i >= 0; i-- {
		if done-seen[i].Done >= max(1, total/minEstimate) {
			return seen[i], true
		}
	}
	return Start{}, false
}

// A Start is where the estimate of a phase's final live data starts from
// (Policy.PercentAt): the live data a collection found, with Done units of
// the phase's work done then.
type Start struct {
	Live uint64
	Done int
}

// minEstimate is the share of a phase's work (1/minEstimate) that must be
// done past the estimate's start before its growth is extended to the
// rest: over a shorter span, what the live data did is mostly noise.
const minEstimate = 5

// PercentAt is Percent for a phase done of total units through its work
// (see Policy.EndShare): Percent(live) without an EndShare or while
// nothing is known done past start, else at most the GOGC whose goal is
// the end share past the live data estimated at the end, and at least the
// one of minFloor's headroom. The estimate extends the growth of the live
// data since start to the work not done (no growth if it shrank); the end
// share is EndShare, or for an estimate below EndFullAt that share of it,
// at least MinEndShare.
func (p Policy) PercentAt(live uint64, done, total int, start Start) int {
	percent := p.Percent(live)
	done = min(done, total)
	if p.EndShare == 0 || live == 0 || total <= 0 || done-start.Done < total/minEstimate {
		return percent
	}
	end := float64(live)
	if live > start.Live {
		end += float64(live-start.Live) * float64(total-done) / float64(done-start.Done)
	}
	share := float64(p.EndShare)
	if p.EndFullAt > 0 && end < float64(p.EndFullAt) {
		share = max(float64(p.MinEndShare), share*end/float64(p.EndFullAt))
	}
	headroom := max(end*(100+share)/100-float64(live), minFloor)
	return max(1, min(percent, int(math.Round(headroom*100/float64(live)))))
}

// PercentFrom is the GOGC that sets the heap's goal to base plus its
// headroom (Percent's, with the whole MinHeadroom for a floor: nobody
// measured what of base is live), when the last collection found live
// bytes live (GOGC is relative to that); Percent(live) if base is not
// larger. With live 0 (no collection yet: the goal is then the runtime's floor, see
// floorPercent), it is the GOGC whose floor is that goal, past
// MaxPercent if need be: there is no live data for MaxPercent to be
// relative to, and a smaller floor would collect at once. So is a live
// heap under the runtime's floor (heapFloorUnit) that base is larger
// than: a collection at the start of the command (HugePages) measured
// nothing of what was loaded since.
func (p Policy) PercentFrom(live, base uint64) int {
	if live < heapFloorUnit && base > live {
		return max(p.Percent(0), floorPercent(base+max(p.MinHeadroom, base*p.Share/100)))
	}
	if base <= live || live == 0 {
		return p.Percent(live)
	}
	goal := base + max(p.MinHeadroom, base*p.Share/100)
	return max(1, int(min((goal-live)*100/live, uint64(p.MaxPercent))))
}

// heapFloorUnit is the Go runtime's floor of the heap goal at GOGC=100
// (its defaultHeapMinimum): whatever the live data, the runtime does not
// collect before the heap reaches heapFloorUnit*GOGC/100.
const heapFloorUnit = 4 << 20

// floorPercent is the smallest GOGC whose floor is at least goal bytes.
func floorPercent(goal uint64) int {
	const maxPercent = 1 << 30 // far past any heap; GOGC is an int32 inside the runtime
	return int(min((goal*100+heapFloorUnit-1)/heapFloorUnit, maxPercent))
}

// Reserve holds collections off until the heap has grown by n bytes past
// what it holds now, for a phase about to load about n bytes that stay
// live (a no-op build's analysis snapshot, action record and graph):
// collecting while they load would mark again and again data of which
// little is garbage (at 100,000 actions, one such collection cost 0.2 s
// of CPU, a sixth of the no-op). It raises GOGC only, through the
// runtime's floor of the goal (which holds whether or not a collection
// has run), and does nothing when the user set GOGC or GOMEMLIMIT.
//
// The reserve ends by itself at the first collection after it: GOGC is
// then the one of before again (a raised GOGC would otherwise let the
// heap grow to many times its live data). A Follow started meanwhile
// takes over; the reserve ends once that Follow has stopped (giving the
// reserve's GOGC back) and a collection has run. end ends it at once,
// GOGC back to the one of before if it is still the reserve's; calls
// after the first do nothing.
func Reserve(n uint64) (end func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/gogc:percent"},
	}
	read := func() (heap, cycles uint64, gogc int, ok bool) {
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return 0, 0, 0, false
			}
		}
		return samples[0].Value.Uint64(), samples[1].Value.Uint64(), int(samples[2].Value.Uint64()), true
	}
	heap, cycles, _, ok := read()
	if !ok {
		return func() {}
	}
	percent := floorPercent(heap + n)
	prev := debug.SetGCPercent(percent)
	if prev < 0 || prev >= percent {
		debug.SetGCPercent(prev) // collections off, or already that far
		return func() {}
	}
	stopPolling := crash.EveryUntil(poll, func() bool {
		if _, c, gogc, ok := read(); ok && c != cycles && gogc == percent {
			debug.SetGCPercent(prev)
			return false
		}
		return true
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			stopPolling()
			if _, _, gogc, ok := read(); ok && gogc == percent {
				debug.SetGCPercent(prev)
			}
		})
	}
}

// poll is how often FollowProgress (its goal moves with the progress) and
// Reserve look for a new collection; Follow, FollowNow and FollowCollected
// are called after each one instead (afterCollections). Reading two
// runtime metrics costs well under a microsecond and stops nothing, but
// each tick wakes the process.
const poll = 10 * time.Millisecond

// metricNames are what Follow reads, in this order.
var metricNames = []string{
	"/gc/heap/live:bytes",
	"/gc/cycles/total:gc-cycles",
	"/memory/classes/heap/objects:bytes",
}

// Follow holds the heap to its live data plus p's headroom (Percent),
// adjusted after every collection (until the first one, the heap as it is
// when Follow starts stands for the live data), until the function it
// returns is called, which restores the GOGC of before. It does nothing when the user
// set GOGC or GOMEMLIMIT: theirs is the say. Calls may nest (the inner
// one's stop restores the outer one's GOGC, and the outer one then follows
// again), but the phases that use it run one after the other.
func Follow(p Policy) (stop func()) { return follow(p, false, nil) }

// A Progress says how far a phase is through the work it knows of (for
// FollowProgress): done of total units, such as targets analyzed of those
// to analyze. The zero value says nothing is known. Safe for concurrent
// use; a nil *Progress knows nothing and ignores Set.
type Progress struct {
	v atomic.Uint64 // done<<32 | total
}

// Set records that done of total units are done (each clipped to 32
// bits).
func (pr *Progress) Set(done, total int) {
	if pr == nil {
		return
	}
	const max32 = 1<<32 - 1
	pr.v.Store(uint64(min(max(done, 0), max32))<<32 | uint64(min(max(total, 0), max32)))
}

// Get returns what the last Set recorded (0, 0 before any).
func (pr *Progress) Get() (done, total int) {
	if pr == nil {
		return 0, 0
	}
	v := pr.v.Load()
	return int(v >> 32), int(v & (1<<32 - 1))
}

// FollowProgress is Follow with the goal also set from pr as it changes
// (Policy.PercentAt), between collections too; pr may be nil (Follow).
func FollowProgress(p Policy, pr *Progress) (stop func()) { return follow(p, false, pr) }

// FollowNow is Follow for a phase that starts when what the last one
// allocated since its last collection is mostly garbage (the end of an
// analysis): the goal is set from that collection's live data at once,
// and if the heap is past it, a collection starts (or the one under way
// finishes) before the heap grows further. (runtime.GC would wait for a
// collection under way and then run another.)
func FollowNow(p Policy) (stop func()) { return follow(p, true, nil) }

// FollowCollected is Follow for a phase that starts when neither the heap
// as it is nor the last collection tells what is live: the phase before
// made much that is garbage now, and the last collection ran while some
// of it was still in use (the end of an analysis: the snapshot's
// encoding, while the snapshot was written). A collection starts at once,
// in the background (the caller goes on), and the goal follows what it
// finds live; until it ends, the heap as it is stands for the live data,
// as with Follow. (At 10,000 actions, the collection that ran while the
// snapshot was written found 23 MB live, the one after 9 MB.) The
// collection starts once after is closed (at once when after is nil), so
// that a caller can keep its stops of the world off a path it times (the
// first command of a build). It does nothing when the user set GOGC or
// GOMEMLIMIT.
func FollowCollected(p Policy, after <-chan struct{}) (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	stop = follow(p, false, nil)
	crash.Go(func() {
		if after != nil {
			<-after
		}
		runtime.GC()
	})
	return stop
}

func follow(p Policy, now bool, pr *Progress) (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	samples := make([]metrics.Sample, len(metricNames))
	for i, name := range metricNames {
		samples[i].Name = name
	}
	cycles := ^uint64(0)
	var live uint64 // as the last collection found, once one ran since Follow
	// seen are the collections seen since the first, as starts of an
	// estimate (estimateStart), at most one with nothing done.
	var seen []Start
	current := 0 // the GOGC set last
	set := func() {
		metrics.Read(samples)
		for _, s := range samples {
			if s.Value.Kind() != metrics.KindUint64 {
				return // not this runtime's metrics: leave GOGC alone
			}
		}
		if c := samples[1].Value.Uint64(); c != cycles {
			first := cycles == ^uint64(0)
			live = samples[0].Value.Uint64()
			done, total := pr.Get()
			percent := p.Percent(live)
			if pr != nil && !first {
				if len(seen) == 1 && seen[0].Done == 0 && done == 0 {
					seen = seen[:0] // the last collection before the work started will do
				}
				seen = append(seen, Start{Live: live, Done: done})
				if start, ok := estimateStart(seen, done, total); ok {
					percent = p.PercentAt(live, done, total, start)
				}
			}
			if first && !now {
				// Until the next collection, the heap as it is now is
				// the base: what the last phase allocated since the last
				// collection may well be live (the data it loaded for
				// this one), and the live data of that collection would
				// set a goal already passed, starting a collection at once.
				percent = p.PercentFrom(live, samples[2].Value.Uint64())
				live = 0
			}
			cycles, current = c, percent
			debug.SetGCPercent(percent)
			return
		}
		if pr != nil && live > 0 && len(seen) > 0 {
			// The goal of the same live data shrinks as the work goes on.
			done, total := pr.Get()
			start, ok := estimateStart(seen, done, total)
			if !ok {
				return
			}
			if percent := p.PercentAt(live, done, total, start); percent != current {
				current = percent
				debug.SetGCPercent(percent)
			}
		}
	}
	prev := debug.SetGCPercent(p.MaxPercent)
	set()
	// Without a Progress the goal changes at collections only: set runs
	// after each one, and the build is not woken every poll for nothing
	// (a 10 ms ticker woke a 1,000-action build ~1,000 times, and the
	// runtime's sysmon with it, for 3 collections).
	var stopFollowing func()
	if pr == nil {
		stopFollowing = afterCollections(func() bool { set(); return true })
	} else {
		stopFollowing = crash.Every(poll, set)
	}
	return func() {
		stopFollowing()
		debug.SetGCPercent(prev)
	}
}

// afterCollections calls f, from a goroutine started by crash.Go, after
// garbage collections, until f returns false or the function it returns
// is called; that function returns once f has returned for the last
// time, so that nothing f does outlives it. Each call follows a
// collection that started after the call before it began (or after
// afterCollections was called); collections in quick succession may make
// one call, and a collection under way when a call begins is not seen
// (what is allocated during its marking survives it). Unlike polling, it
// wakes nothing between collections. A collection is seen through the
// cleanup of an object allocated for it (runtime.AddCleanup), which the
// runtime runs once the collection has found the object unreachable and
// its sweep is done.
func afterCollections(f func() (again bool)) (stop func()) {
	h := &collectionHook{f: f}
	h.arm()
	return func() {
		h.mu.Lock()
		h.stopped = true
		h.mu.Unlock()
	}
}

// collectionHook is afterCollections' state.
type collectionHook struct {
	mu      sync.Mutex
	stopped bool
	f       func() bool
}

// collectionSentinel is what a collectionHook watches: it holds a
// pointer so that it is never a tiny allocation (the runtime batches those
// into blocks that may stay reachable through a neighbour).
type collectionSentinel struct{ _ *byte }

// arm allocates an object nothing refers to and runs fire when a
// collection has reclaimed it.
func (h *collectionHook) arm() {
	runtime.AddCleanup(new(collectionSentinel), func(h *collectionHook) {
		// The runtime's cleanups share a goroutine: f, which may wait
		// for a lock, runs on one of its own.
		crash.Go(h.fire)
	}, h)
}

// fire calls f for a collection. The next call is armed first, so that
// a collection that starts while f runs is seen too; if f asks for no
// more, that call finds the hook stopped.
func (h *collectionHook) fire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.arm()
	if !h.f() {
		h.stopped = true
	}
}
