package status

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"bld/exec/executor"
	"bld/exec/graph"
)

// StageTable is an executor.Observer that times the optimization stages
// of a build (actions with graph.Action.Stage) and prints them as a table
// when the build is over, in the style of Rust's opt-dist: each stage, and
// under it its substeps (its actions by mnemonic), with seconds and percent
// of the total, then the total, and whether each came from the cache.
//
// A substep's seconds are the wall time during which at least one of its
// actions was under way (checked, restored or run); a stage's seconds are
// the sum of its substeps', and the total the sum of the stages', so the
// rows add up. Time outside stages is not in the table.
type StageTable struct {
	mu     sync.Mutex
	order  map[string]int // stage ID -> first planned position
	rows   map[string]*stageRow
	starts map[string]time.Time
}

type stageRow struct {
	pipeline, stage string
	steps           map[string]*stepRow
	stepOrder       []string
}

type stepRow struct {
	mnemonic  string
	intervals [][2]time.Time
	ran       int // actions that ran (or failed)
	cached    int // actions cached or restored
	failed    int
}

var _ executor.Observer = (*StageTable)(nil)

// NewStageTable returns an empty StageTable.
func NewStageTable() *StageTable {
	return &StageTable{order: map[string]int{}, rows: map[string]*stageRow{}, starts: map[string]time.Time{}}
}

// Planned implements executor.Observer: stages are listed in the order in
// which their first action was planned, which is the order analysis
// declared them in (a stage after the stages it depends on).
func (t *StageTable) Planned(actions []*graph.Action) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, a := range actions {
		if id := a.StageID(); id != "" {
			if _, ok := t.order[id]; !ok {
				t.order[id] = i
			}
		}
	}
}

// Started implements executor.Observer.
func (t *StageTable) Started(int, *graph.Action) {}

// Finished implements executor.Observer.
func (t *StageTable) Finished(r executor.Result) {
	a := r.Action
	id := a.StageID()
	if id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	row := t.rows[id]
	if row == nil {
		row = &stageRow{pipeline: a.Pipeline(), stage: a.Stage(), steps: map[string]*stepRow{}}
		t.rows[id] = row
		if _, ok := t.order[id]; !ok {
			t.order[id] = len(t.order)
		}
	}
	step := row.steps[a.Mnemonic]
	if step == nil {
		step = &stepRow{mnemonic: a.Mnemonic}
		row.steps[a.Mnemonic] = step
		row.stepOrder = append(row.stepOrder, a.Mnemonic)
	}
	step.intervals = append(step.intervals, [2]time.Time{r.Start, r.End})
	switch r.Status {
	case executor.StatusRan:
		step.ran++
	case executor.StatusFailed:
		step.ran++
		step.failed++
	default:
		step.cached++
	}
}

// Empty reports whether no action of a stage finished.
func (t *StageTable) Empty() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.rows) == 0
}

// A StageLine is one row of the table: a stage (Step empty) or one of its
// substeps.
type StageLine struct {
	Pipeline, Stage, Step string
	Seconds               float64
	Percent               float64 // of Total
	Actions               int
	Result                string // "ran", "cached", "failed", or "N ran, M cached"
}

// Lines returns the table's rows, stages in order each followed by its
// substeps, and the total seconds.
func (t *StageTable) Lines() ([]StageLine, float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.rows))
	for id := range t.rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return t.order[ids[i]] < t.order[ids[j]] })
	var lines []StageLine
	var total float64
	for _, id := range ids {
		row := t.rows[id]
		head := len(lines)
		lines = append(lines, StageLine{Pipeline: row.pipeline, Stage: row.stage})
		var ran, cached, failed int
		for _, m := range row.stepOrder {
			s := row.steps[m]
			secs := union(s.intervals)
			lines = append(lines, StageLine{Pipeline: row.pipeline, Stage: row.stage, Step: m, Seconds: secs,
				Actions: s.ran + s.cached, Result: result(s.ran, s.cached, s.failed)})
			lines[head].Seconds += secs
			lines[head].Actions += s.ran + s.cached
			ran, cached, failed = ran+s.ran, cached+s.cached, failed+s.failed
		}
		lines[head].Result = result(ran, cached, failed)
		total += lines[head].Seconds
	}
	for i := range lines {
		if total > 0 {
			lines[i].Percent = 100 * lines[i].Seconds / total
		}
	}
	return lines, total
}

// Print writes the table to w; it writes nothing when no stage ran.
func (t *StageTable) Print(w io.Writer) {
	lines, total := t.Lines()
	if len(lines) == 0 {
		return
	}
	var b strings.Builder
	rule := strings.Repeat("-", 72) + "\n"
	b.WriteString(rule)
	pipeline := ""
	for _, l := range lines {
		if l.Step == "" {
			if l.Pipeline != pipeline {
				pipeline = l.Pipeline
				fmt.Fprintf(&b, "%s\n", pipeline)
			}
			fmt.Fprintf(&b, "  %-36s %9.2fs %6.2f%%  %s\n", "stage "+l.Stage+":", l.Seconds, l.Percent, l.Result)
			continue
		}
		fmt.Fprintf(&b, "    %-34s %9.2fs %6.2f%%  %s\n", fmt.Sprintf("%s (%s)", l.Step, Plural(l.Actions, "action")), l.Seconds, l.Percent, l.Result)
	}
	fmt.Fprintf(&b, "  %-36s %9.2fs\n", "total:", total)
	b.WriteString(rule)
	io.WriteString(w, b.String())
}

// result says how a row's actions were done.
func result(ran, cached, failed int) string {
	switch {
	case failed > 0:
		return fmt.Sprintf("failed (%d of %d)", failed, ran+cached)
	case cached == 0:
		return "ran"
	case ran == 0:
		return "cached"
	}
	return fmt.Sprintf("%d ran, %d cached", ran, cached)
}

// union returns the seconds covered by at least one of the intervals.
func union(iv [][2]time.Time) float64 {
	sort.Slice(iv, func(i, j int) bool { return iv[i][0].Before(iv[j][0]) })
	var total time.Duration
	var cur [2]time.Time
	for i, x := range iv {
		if i == 0 || x[0].After(cur[1]) {
			if i > 0 {
				total += cur[1].Sub(cur[0])
			}
			cur = x
			continue
		}
		if x[1].After(cur[1]) {
			cur[1] = x[1]
		}
	}
	if len(iv) > 0 {
		total += cur[1].Sub(cur[0])
	}
	return total.Seconds()
}
