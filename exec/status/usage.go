package status

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"bld/exec/crash"
)

// Usage is what the machine's CPUs and the build's token pool did while
// the actions ran, sampled for the --timings report (Sample).
type Usage struct {
	// CPUs is the number of CPUs the machine has, as /proc/stat lists
	// them; 0 when the CPU use could not be read, and CPUNote says why.
	CPUs    int
	CPUNote string
	// CPU holds the share of all CPUs busy (0 to 1) over each interval
	// between two samples, at the interval's end: CPU[i] is the share
	// from CPU[i-1].At (CPUSince for the first) to CPU[i].At. Busy is all
	// but idle and waiting for I/O, for every process of the machine.
	CPU      []UsagePoint
	CPUSince time.Time
	// PoolSize is the token pool's size (-j, or a parent jobserver's: 0
	// when unknown), and Tokens the tokens in use at each sample: the one
	// each running action holds and the extra ones jobserver clients
	// took. Empty when the pool was not sampled.
	PoolSize int
	Tokens   []UsagePoint
}

// A UsagePoint is one sample: its value at At.
type UsagePoint struct {
	At time.Time
	V  float64
}

// cpuTimes is the CPU time of all CPUs, in /proc/stat's ticks.
type cpuTimes struct {
	busy, total uint64
}

// parseProcStat reads the line "cpu ..." of /proc/stat (the sum over all
// CPUs: user nice system idle iowait irq softirq steal guest guest_nice)
// and counts the "cpuN" lines. Busy is the total less idle and iowait;
// guest and guest_nice are already counted in user and nice.
func parseProcStat(text []byte) (cpuTimes, int, error) {
	var t cpuTimes
	found, cpus := false, 0
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			cpus++
			continue
		}
		if len(f) < 5 {
			return cpuTimes{}, 0, fmt.Errorf("/proc/stat: %d fields on the cpu line, want at least 4", len(f)-1)
		}
		for i, s := range f[1:min(len(f), 9)] { // up to steal
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, 0, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
			}
			t.total += v
			if i != 3 && i != 4 { // idle, iowait
				t.busy += v
			}
		}
		found = true
	}
	if !found {
		return cpuTimes{}, 0, errors.New("/proc/stat has no cpu line")
	}
	return t, max(cpus, 1), nil
}

// A sampler takes the samples of a Usage.
type sampler struct {
	readStat func() ([]byte, error)
	tokens   func() (inUse, total int)

	usage Usage
	last  cpuTimes
}

// sample takes one sample, at now.
func (s *sampler) sample(now time.Time) {
	if s.tokens != nil {
		n, total := s.tokens()
		s.usage.PoolSize = total
		s.usage.Tokens = append(s.usage.Tokens, UsagePoint{now, float64(n)})
	}
	if s.usage.CPUNote != "" {
		return
	}
	text, err := s.readStat()
	var t cpuTimes
	var cpus int
	if err == nil {
		t, cpus, err = parseProcStat(text)
	}
	if err != nil {
		s.usage.CPUs, s.usage.CPU = 0, nil
		s.usage.CPUNote = "not available: " + err.Error()
		return
	}
	switch {
	case s.usage.CPUs == 0:
		s.usage.CPUSince = now
	case t.busy < s.last.busy || t.total-t.busy < s.last.total-s.last.busy:
		// A counter went back (iowait may; CPU hotplug, a virtualised
		// /proc/stat): this interval says nothing, the next starts here.
	case t.total > s.last.total:
		share := float64(t.busy-s.last.busy) / float64(t.total-s.last.total)
		s.usage.CPU = append(s.usage.CPU, UsagePoint{now, min(share, 1)})
	default:
		return // no tick yet: the interval goes on
	}
	s.usage.CPUs, s.last = cpus, t
}

// Sample samples the machine's CPU use (/proc/stat: not available where
// it cannot be read, as on other systems than Linux) and, if tokens is not
// nil, the token pool's use (jobserver.Pool.InUse), every interval from
// now until ctx ends or stop is called, on a goroutine of its own. stop
// takes a last sample, waits for the goroutine and returns the samples; it
// must be called once. Nothing is sampled before Sample or after stop.
func Sample(ctx context.Context, every time.Duration, tokens func() (inUse, total int)) (stop func() Usage) {
	return startSampler(ctx, every, &sampler{readStat: func() ([]byte, error) { return os.ReadFile("/proc/stat") }, tokens: tokens})
}

func startSampler(ctx context.Context, every time.Duration, s *sampler) func() Usage {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	s.sample(time.Now())
	wg.Add(1)
	crash.Go(func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				s.sample(now)
			}
		}
	})
	return func() Usage {
		cancel()
		wg.Wait()
		s.sample(time.Now())
		return s.usage
	}
}
