package status

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"bld/exec/executor"
	"bld/exec/graph"
)

// chromium finds a Chromium to render the report with: $BLD_TEST_CHROMIUM,
// else chromium or google-chrome on PATH (Debian: apt-get install chromium).
func chromium(t *testing.T) string {
	if p := os.Getenv("BLD_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium to render the timings report (apt-get install chromium); TestTimingsHTMLStructure still checks the page")
	return ""
}

// manyActions is a build of n actions: chains of 10 compiles each ending
// in a link, on 2 slots, every fifth action restored from the cache.
func manyActions(n int) []executor.Result {
	var rs []executor.Result
	free := [2]time.Time{t0, t0}
	for i := 0; i < n; i++ {
		a := &graph.Action{Owner: fmt.Sprintf("//p%d:t%d", i/100, i/10), Mnemonic: []string{"CcCompile", "CcCompile", "Genrule", "CcLink"}[i%4],
			Outputs: []string{fmt.Sprintf("o%d", i)}}
		if i%10 != 0 {
			a.Inputs = []string{fmt.Sprintf("o%d", i-1)}
		}
		slot := i % 2
		start := free[slot]
		if i%10 != 0 && rs[i-1].End.After(start) {
			start = rs[i-1].End
		}
		d := time.Duration(1+i%7) * time.Millisecond
		status := executor.StatusRan
		if i%5 == 0 {
			status, d = executor.StatusRestored, 200*time.Microsecond
		}
		rs = append(rs, executor.Result{ID: i, Action: a, Status: status, Start: start, End: start.Add(d)})
		free[slot] = start.Add(d)
	}
	return rs
}

// Renders the report of 10,000 actions in headless Chromium, through the
// DevTools protocol, and checks that its script drew every action, the
// critical path and the concurrency chart, by counting what it drew and
// the pixels of the canvases.
func TestTimingsRenderInChromium(t *testing.T) {
	browser := chromium(t)
	results := manyActions(10_000)
	var end time.Time
	for _, r := range results {
		if r.End.After(end) {
			end = r.End
		}
	}
	tm := &Timings{Title: "//...", Start: t0, Elapsed: end.Sub(t0), Jobs: 2, Results: results,
		Phases: []Phase{{Name: "loading", Start: t0, End: t0.Add(time.Millisecond)}}}
	page := filepath.Join(t.TempDir(), "timings.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	info, _ := os.Stat(page)
	t.Logf("report of %d actions: %d bytes", len(results), info.Size())

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	type drawnCounts struct {
		Drawn struct {
			Gantt, Critical, Concurrency, Phases int
		}
		Actions, Critical int
	}
	if _, err := chromedp.Run(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("opening the report in %s: %v", browser, err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Poll[drawnCounts](`window.bldTimings`, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("the report's script did not finish drawing: %v", err)
	}
	// Pixels: [coloured, critical red, concurrency blue].
	pixels, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`(() => {
			const count = (id, test) => {
				const c = document.getElementById(id), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
				let n = 0;
				for (let i = 0; i < d.length; i += 4) if (test(d[i], d[i+1], d[i+2], d[i+3])) n++;
				return n;
			};
			return [
				count("gantt", (r, g, b, a) => a > 0 && !(r > 200 && g > 200 && b > 200)),
				count("gantt", (r, g, b, a) => a > 200 && r > 190 && g < 40 && b < 40),
				count("concurrency", (r, g, b, a) => a > 200 && Math.abs(r - 0x1f) < 20 && Math.abs(g - 0x77) < 20 && Math.abs(b - 0xb4) < 20),
			];
		})()`))
	if err != nil {
		t.Fatalf("reading the canvases: %v", err)
	}
	drawMs, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const t = performance.now(); draw(); return performance.now() - t; })()`))
	if err != nil {
		t.Fatalf("redrawing: %v", err)
	}
	t.Logf("drawn %+v; pixels coloured %d, critical red %d, concurrency blue %d; a redraw took %.0f ms", drawn, pixels[0], pixels[1], pixels[2], drawMs)
	critical := len(CriticalPath(results))
	if drawn.Actions != 10_000 || drawn.Drawn.Gantt != 10_000 || drawn.Drawn.Critical != critical || drawn.Critical != critical || drawn.Drawn.Phases != 1 {
		t.Errorf("drawn %+v, want 10000 actions and %d on the critical path", drawn, critical)
	}
	if drawn.Drawn.Concurrency < 2*10_000 {
		t.Errorf("the concurrency chart drew %d points, want one per start and end", drawn.Drawn.Concurrency)
	}
	if pixels[0] < 10_000 || pixels[1] == 0 || pixels[2] == 0 {
		t.Errorf("canvas pixels: %d coloured in the Gantt chart, %d red (critical path), %d blue in the concurrency chart", pixels[0], pixels[1], pixels[2])
	}
}
