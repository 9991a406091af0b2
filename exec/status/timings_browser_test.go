package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png" // the screenshot
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

// writeReport writes tm's report to a file of a temporary directory.
func writeReport(t *testing.T, tm *Timings) string {
	t.Helper()
	page := filepath.Join(t.TempDir(), "timings.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return page
}

// drawnCounts is what the page's script says it drew (window.bldTimings).
type drawnCounts struct {
	Drawn struct {
		Gantt, Critical, Concurrency, Phases, States, Ready, Tokens, CPU int
	}
	Actions, Critical int
}

// openReport renders the page in headless Chromium and waits for its
// script to have drawn everything. The context ends with the test.
func openReport(t *testing.T, browser, page string) (context.Context, drawnCounts) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	if _, err := chromedp.Run(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatalf("opening the report in %s: %v", browser, err)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Poll[drawnCounts](`window.bldTimings`, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("the report's script did not finish drawing: %v", err)
	}
	return ctx, drawn
}

// countPixels counts, per [canvas id, colour "#rrggbb"], the pixels of
// that canvas within 20 of the colour on each channel; the colour "any"
// counts those neither blank nor near white.
func countPixels(t *testing.T, ctx context.Context, queries [][2]string) []int {
	t.Helper()
	js := `((qs) => qs.map(([id, col]) => {
		const c = document.getElementById(id), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const want = col === "any" ? null : [1, 3, 5].map(i => parseInt(col.slice(i, i + 2), 16));
		let n = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (d[i+3] < 200 && (want || d[i+3] === 0)) continue;
			if (want ? Math.abs(d[i] - want[0]) < 20 && Math.abs(d[i+1] - want[1]) < 20 && Math.abs(d[i+2] - want[2]) < 20
				: !(d[i] > 200 && d[i+1] > 200 && d[i+2] > 200)) n++;
		}
		return n;
	}))(` + jsonString(t, queries) + `)`
	n, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](js))
	if err != nil {
		t.Fatalf("reading the canvases: %v", err)
	}
	return n
}

func jsonString(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// artifactDir is where tests keep files for a human to look at after a
// run: $BLD_TEST_ARTIFACTS (.ci/run sets it and lists it at the end), else
// bld-test-artifacts under the system's temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("BLD_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "bld-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
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
	tm := &Timings{Title: "//...", Start: t0, Elapsed: end.Sub(t0), Jobs: 2, Results: results, Planned: len(results), PlannedAt: t0,
		Phases: []Phase{{Name: "loading", Start: t0, End: t0.Add(time.Millisecond)}}}
	page := writeReport(t, tm)
	info, _ := os.Stat(page)
	t.Logf("report of %d actions: %d bytes", len(results), info.Size())
	ctx, drawn := openReport(t, browser, page)
	// Pixels: [coloured, critical red, concurrency blue].
	pixels := countPixels(t, ctx, [][2]string{{"gantt", "any"}, {"gantt", "#dd0000"}, {"concurrency", "#1f77b4"}})
	drawMs, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const t = performance.now(); draw(); return performance.now() - t; })()`))
	if err != nil {
		t.Fatalf("redrawing: %v", err)
	}
	t.Logf("drawn %+v; pixels coloured %d, critical red %d, concurrency blue %d; a redraw took %.0f ms", drawn, pixels[0], pixels[1], pixels[2], drawMs)
	critical := len(CriticalPath(results))
	if drawn.Actions != 10_000 || drawn.Drawn.Gantt != 10_000 || drawn.Drawn.Critical != critical || drawn.Critical != critical || drawn.Drawn.Phases != 1 {
		t.Errorf("drawn %+v, want 10000 actions and %d on the critical path", drawn, critical)
	}
	if states := len(tm.states()); states < 10_000 || drawn.Drawn.Concurrency != states || drawn.Drawn.States != states {
		t.Errorf("the concurrency chart drew %d points, want the %d points of the states (one at least per action)", drawn.Drawn.Concurrency, states)
	}
	if pixels[0] < 10_000 || pixels[1] == 0 || pixels[2] == 0 {
		t.Errorf("canvas pixels: %d coloured in the Gantt chart, %d red (critical path), %d blue in the concurrency chart", pixels[0], pixels[1], pixels[2])
	}
}

// Renders the report of a small real build (realBuild: restored actions,
// actions waiting for a token, a jobserver-aware make) and checks that
// the new charts are drawn: the ready series, the tokens in use, the CPU
// use. Keeps a screenshot of the whole page as a test artifact.
func TestTimingsSmallBuildInChromium(t *testing.T) {
	browser := chromium(t)
	tm := realBuild(t)
	ctx, drawn := openReport(t, browser, writeReport(t, tm))
	d := tm.data()
	pixels := countPixels(t, ctx, [][2]string{{"concurrency", "#1f77b4"}, {"concurrency", "#ff7f0e"}, {"concurrency", "#2ca02c"},
		{"concurrency", "#e4e4e4"}, {"cpu", "#9467bd"}})
	t.Logf("drawn %+v; pixels running %d, ready %d, tokens %d, waiting %d, CPU %d", drawn, pixels[0], pixels[1], pixels[2], pixels[3], pixels[4])
	if drawn.Actions != len(tm.Results) || drawn.Drawn.States != len(d.States) || drawn.Drawn.Tokens != len(d.Tokens) || drawn.Drawn.CPU != len(d.CPU) {
		t.Errorf("drawn %+v; want %d actions, %d state points, %d token samples, %d CPU samples", drawn, len(tm.Results), len(d.States), len(d.Tokens), len(d.CPU))
	}
	for i, what := range []string{"running", "ready", "tokens in use", "waiting on dependencies"} {
		if pixels[i] == 0 {
			t.Errorf("the concurrency chart has no pixel of %s", what)
		}
	}
	if d.CPUs > 0 && pixels[4] == 0 {
		t.Errorf("the CPU chart is empty, with %d samples", len(d.CPU))
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkScreenshot(t, png)
	path := filepath.Join(artifactDir(t), "timings-small-build.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the report: %s", path)
}

// checkScreenshot fails the test unless b is a PNG image of more than one
// colour.
func checkScreenshot(t *testing.T, b []byte) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil || format != "png" {
		t.Fatalf("the screenshot is not a PNG image (%s): %v", format, err)
	}
	r := img.Bounds()
	first := img.At(r.Min.X, r.Min.Y)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.At(x, y) != first {
				return
			}
		}
	}
	t.Errorf("the screenshot (%dx%d) is blank: one colour", r.Dx(), r.Dy())
}
