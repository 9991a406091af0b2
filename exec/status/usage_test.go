package status

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       cpuTimes
		cpus       int
		err        bool
	}{
		{name: "linux 2 cpus", text: "cpu  100 5 50 800 20 3 2 1 7 0\ncpu0 50 2 25 400 10 1 1 0 7 0\ncpu1 50 3 25 400 10 2 1 1 0 0\nintr 12345 1 2\nctxt 99\n",
			// busy: user+nice+system+irq+softirq+steal; guest is in user already.
			want: cpuTimes{busy: 100 + 5 + 50 + 3 + 2 + 1, total: 100 + 5 + 50 + 800 + 20 + 3 + 2 + 1}, cpus: 2},
		{name: "old kernel, 4 fields", text: "cpu 10 0 10 80\ncpu0 10 0 10 80\n", want: cpuTimes{busy: 20, total: 100}, cpus: 1},
		{name: "no per-cpu lines", text: "cpu 1 2 3 4 5\n", want: cpuTimes{busy: 6, total: 15}, cpus: 1},
		{name: "no cpu line", text: "intr 1\nctxt 2\n", err: true},
		{name: "empty", text: "", err: true},
		{name: "short cpu line", text: "cpu 1 2 3\n", err: true},
		{name: "not a number", text: "cpu 1 2 x 4\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cpus, err := parseProcStat([]byte(tc.text))
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want an error: %v", err, tc.err)
			}
			if err == nil && (got != tc.want || cpus != tc.cpus) {
				t.Errorf("got %+v on %d cpus, want %+v on %d", got, cpus, tc.want, tc.cpus)
			}
		})
	}
}

// The sampler's points from a sequence of /proc/stat texts and of token
// counts: a busy share per interval (an interval without a tick goes on
// into the next), the tokens at each sample.
func TestSamplerPoints(t *testing.T) {
	texts := []string{
		"cpu 0 0 0 0 0\ncpu0 x\ncpu1 x\n",
		"cpu 10 0 0 10 0\ncpu0 x\ncpu1 x\n", // 10 of 20 busy
		"cpu 10 0 0 10 0\ncpu0 x\ncpu1 x\n", // no tick: no point
		"cpu 40 0 0 15 5\ncpu0 x\ncpu1 x\n", // 30 of 40
		"cpu 45 0 0 16 2\ncpu0 x\ncpu1 x\n", // iowait went back (5 busy of 3?): no point
		"cpu 55 0 0 24 4\ncpu0 x\ncpu1 x\n", // 10 of 20, from the last
	}
	tokens := []int{0, 2, 3, 1, 1, 0}
	i := 0
	s := &sampler{
		readStat: func() ([]byte, error) { return []byte(texts[i]), nil },
		tokens:   func() (int, int) { return tokens[i], 4 },
	}
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * 100 * time.Millisecond) }
	for ; i < len(texts); i++ {
		s.sample(at(i))
	}
	want := Usage{CPUs: 2, CPUSince: at(0), CPU: []UsagePoint{{at(1), 0.5}, {at(3), 0.75}, {at(5), 0.5}},
		PoolSize: 4, Tokens: []UsagePoint{{at(0), 0}, {at(1), 2}, {at(2), 3}, {at(3), 1}, {at(4), 1}, {at(5), 0}}}
	if diff := cmp.Diff(want, s.usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

// Where /proc/stat cannot be read (another system than Linux), the CPU
// use is "not available", with the reason, and the tokens are still
// sampled; Sample's goroutine samples until stop.
func TestSampleCPUNotAvailable(t *testing.T) {
	s := &sampler{readStat: func() ([]byte, error) { return nil, errors.New("open /proc/stat: no such file or directory") },
		tokens: func() (int, int) { return 1, 2 }}
	stop := startSampler(context.Background(), time.Millisecond, s)
	time.Sleep(20 * time.Millisecond)
	u := stop()
	if u.CPUs != 0 || len(u.CPU) != 0 || u.CPUNote != "not available: open /proc/stat: no such file or directory" {
		t.Errorf("CPU: %d cpus, %d points, note %q; want none and not available", u.CPUs, len(u.CPU), u.CPUNote)
	}
	if len(u.Tokens) < 3 || u.PoolSize != 2 {
		t.Errorf("%d token samples of a pool of %d in 20 ms at 1 ms; want a few, of 2", len(u.Tokens), u.PoolSize)
	}
	tm := &Timings{Start: t0, Results: smallBuild(), Usage: u}
	if d := tm.data(); d.CPUs != 0 || d.CPUNote != u.CPUNote {
		t.Errorf("report data: %d cpus, note %q", d.CPUs, d.CPUNote)
	}
}

// BenchmarkSample is the cost of one sample of --timings (every 100 ms):
// reading and parsing /proc/stat; the pool's InUse is a FIONREAD.
//
//	go test -run '^$' -bench Sample -benchmem ./exec/status
func BenchmarkSample(b *testing.B) {
	s := &sampler{readStat: func() ([]byte, error) { return os.ReadFile("/proc/stat") }}
	for b.Loop() {
		s.sample(time.Now())
	}
	if s.usage.CPUNote != "" {
		b.Skip(s.usage.CPUNote)
	}
}
