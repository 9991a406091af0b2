package status

import (
	"bufio"
	"cmp"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sync"
	"time"

	"bld/exec/executor"
)

// Timings is the data of the --timings report: where a build's time went.
type Timings struct {
	Title   string
	Start   time.Time
	Elapsed time.Duration // the whole build, phases included
	Jobs    int
	Phases  []Phase
	Results []executor.Result // by start, as Timeline.Results returns them
	// Planned is how many actions the build needed, and PlannedAt when
	// the executor said so (Timeline.Plan): from
	// then, each waits on its dependencies until it is ready. Zero: the
	// chart counts only the actions in Results, from when each was
	// ready.
	Planned   int
	PlannedAt time.Time
	// Usage is the CPUs' and the token pool's use while the actions ran
	// (Sample).
	Usage Usage
}

// Row is one line of a table of the report.
type Row struct {
	Name                 string
	Count, Ran, FromDisk int // FromDisk: up to date or restored
	Total                time.Duration
	Share                float64 // of the total time of all actions, in percent
}

// timingsData is what the page's script draws from. Times are seconds
// since the build started.
type timingsData struct {
	End        float64        `json:"end"`
	Jobs       int            `json:"jobs"`
	Lanes      int            `json:"lanes"`
	Mnemonics  []string       `json:"mnemonics"` // by total time, longest first
	Phases     []timingsPhase `json:"phases"`
	Actions    [][]any        `json:"actions"` // [start, end, lane, mnemonic index, status, critical 0/1, label, message]
	Statuses   []string       `json:"statuses"`
	Critical   int            `json:"critical"` // actions on the critical path
	CriticalMs float64        `json:"criticalMs"`
	// States: [time, running, ready, waiting], from that time on (see
	// states).
	States [][4]float64 `json:"states"`
	// CPUs is 0 when the CPU use is not available (CPUNote says why);
	// CPU: [time, busy share 0-1]; Tokens: [time, tokens in use]; Pool:
	// the pool's size, 0 if unknown.
	CPUs    int          `json:"cpus"`
	CPUNote string       `json:"cpuNote"`
	CPU     [][2]float64 `json:"cpu"`
	CPUFrom float64      `json:"cpuFrom"` // when the first CPU interval starts
	Pool    int          `json:"pool"`
	Tokens  [][2]float64 `json:"tokens"`
}

type timingsPhase struct {
	Name string  `json:"name"`
	S    float64 `json:"s"`
	E    float64 `json:"e"`
}

// Tables returns the rows per mnemonic and per target (label), longest
// total first.
func (t *Timings) Tables() (byMnemonic, byTarget []Row) {
	var all time.Duration
	mn, tg := map[string]*Row{}, map[string]*Row{}
	for _, r := range t.Results {
		d := r.End.Sub(r.Start)
		all += d
		for _, pair := range []struct {
			m   map[string]*Row
			key string
		}{{mn, r.Action.Mnemonic}, {tg, r.Action.Owner}} {
			row := pair.m[pair.key]
			if row == nil {
				row = &Row{Name: pair.key}
				pair.m[pair.key] = row
			}
			row.Count++
			row.Total += d
			switch r.Status {
			case executor.StatusRan, executor.StatusFailed:
				row.Ran++
			default:
				row.FromDisk++
			}
		}
	}
	rows := func(m map[string]*Row) []Row {
		out := make([]Row, 0, len(m))
		for _, r := range m {
			if all > 0 {
				r.Share = 100 * float64(r.Total) / float64(all)
			}
			out = append(out, *r)
		}
		slices.SortFunc(out, func(a, b Row) int {
			if c := cmp.Compare(b.Total, a.Total); c != 0 {
				return c
			}
			return cmp.Compare(a.Name, b.Name)
		})
		return out
	}
	return rows(mn), rows(tg)
}

// GroupRow is one line of the table of action groups (the partitions of
// a unit): how the work of the group's commands that ran was spread.
type GroupRow struct {
	Name    string
	Ran     int           // the group's actions that ran
	Sum     time.Duration // their total time
	Longest time.Duration // the longest of them
	// Bound is the least wall time the group can take at -j Jobs, its
	// actions as they are: max(Longest, Sum / min(Jobs, Ran)). Longest well
	// above Sum/Ran says the members are unbalanced; Sum / Jobs above
	// Longest says more members would wait for cores, not run sooner.
	Bound  time.Duration
	MaxRSS int64 // the largest peak RSS of a member, bytes
}

// Groups returns a row per action group with an action that ran, by
// name.
func (t *Timings) Groups() []GroupRow {
	rows := map[string]*GroupRow{}
	for _, r := range t.Results {
		if r.Action.Group() == "" || r.Status != executor.StatusRan {
			continue
		}
		g := rows[r.Action.Group()]
		if g == nil {
			g = &GroupRow{Name: r.Action.Group()}
			rows[r.Action.Group()] = g
		}
		d := r.End.Sub(r.Start)
		g.Ran++
		g.Sum += d
		g.Longest = max(g.Longest, d)
		g.MaxRSS = max(g.MaxRSS, r.MaxRSS)
	}
	out := make([]GroupRow, 0, len(rows))
	for _, g := range rows {
		par := min(max(t.Jobs, 1), g.Ran)
		g.Bound = max(g.Longest, g.Sum/time.Duration(par))
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b GroupRow) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func (t *Timings) data() timingsData {
	secs := func(x time.Time) float64 { return x.Sub(t.Start).Seconds() }
	byMn, _ := t.Tables()
	d := timingsData{End: t.Elapsed.Seconds(), Jobs: t.Jobs, Statuses: []string{"ran", "cached", "restored", "failed"},
		States: [][4]float64{}, CPU: [][2]float64{}, Tokens: [][2]float64{}} // [], not null, for the script
	index := map[string]int{}
	for i, r := range byMn {
		d.Mnemonics = append(d.Mnemonics, r.Name)
		index[r.Name] = i
	}
	for _, p := range t.Phases {
		d.Phases = append(d.Phases, timingsPhase{Name: p.Name, S: secs(p.Start), E: secs(p.End)})
	}
	lanes, n := Lanes(t.Results)
	d.Lanes = n
	critical := map[int]bool{}
	for _, i := range CriticalPath(t.Results) {
		critical[i] = true
		d.Critical++
		d.CriticalMs += float64(t.Results[i].End.Sub(t.Results[i].Start).Microseconds()) / 1e3
	}
	messages := distinctMessages(actionsOf(t.Results))
	for i, r := range t.Results {
		crit := 0
		if critical[i] {
			crit = 1
		}
		d.Actions = append(d.Actions, []any{
			round(secs(r.Start)), round(secs(r.End)), lanes[i], index[r.Action.Mnemonic],
			slices.Index(d.Statuses, string(r.Status)), crit, r.Action.Owner, messages[r.Action],
		})
		d.End = max(d.End, secs(r.End))
	}
	for _, p := range t.states() {
		d.States = append(d.States, [4]float64{p.T, float64(p.Running), float64(p.Ready), float64(p.Waiting)})
	}
	d.CPUs, d.CPUNote, d.Pool = t.Usage.CPUs, t.Usage.CPUNote, t.Usage.PoolSize
	if len(t.Usage.CPU) > 0 {
		d.CPUFrom = round(secs(t.Usage.CPUSince))
	}
	for _, p := range t.Usage.CPU {
		d.CPU = append(d.CPU, [2]float64{round(secs(p.At)), p.V})
	}
	for _, p := range t.Usage.Tokens {
		d.Tokens = append(d.Tokens, [2]float64{round(secs(p.At)), p.V})
	}
	return d
}

// statePoint counts the actions in each state from T, seconds since the
// build's start, until the next point.
type statePoint struct {
	T float64
	// Running: checked, restored, or running its command (Start to
	// End); Ready: its dependencies done, waiting for a checker or a
	// token (Ready to Start; the check of an action that must run is in
	// it); Waiting: needed, waiting on its dependencies (from PlannedAt to
	// Ready, or to the build's end for an action that never started: a
	// build stopped by a failure or Ctrl-C leaves some, among them any
	// that were ready, which no Result reports).
	Running, Ready, Waiting int
}

// states returns the number of actions in each state over time, a point
// wherever one changes. An action without a Ready time counts as ready
// at its Start.
func (t *Timings) states() []statePoint {
	type change struct {
		at                      time.Time
		running, ready, waiting int
	}
	var ch []change
	if t.Planned > 0 {
		ch = append(ch, change{at: cmp.Or(t.PlannedAt, t.Start), waiting: t.Planned})
	}
	wait := 0
	if t.Planned > 0 {
		wait = -1 // a ready action waits no more
	}
	for _, r := range t.Results {
		ready := r.Ready
		if ready.IsZero() || ready.After(r.Start) {
			ready = r.Start
		}
		w := wait
		if r.Start.Before(t.PlannedAt) {
			// A result of an earlier run of the build (run again when
			// remote outputs were lost): PlannedAt and Planned are the
			// last run's, which waits for its own actions only.
			w = 0
		}
		ch = append(ch, change{at: ready, ready: 1, waiting: w},
			change{at: r.Start, ready: -1, running: 1}, change{at: r.End, running: -1})
	}
	slices.SortStableFunc(ch, func(a, b change) int { return a.at.Compare(b.at) })
	var pts []statePoint
	var cur statePoint
	for i, c := range ch {
		cur.Running += c.running
		cur.Ready += c.ready
		cur.Waiting += c.waiting
		if i+1 < len(ch) && ch[i+1].at.Equal(c.at) {
			continue // one point for all that changed at once
		}
		cur.T = round(c.at.Sub(t.Start).Seconds())
		n := len(pts)
		switch {
		case n > 0 && pts[n-1].T == cur.T:
			pts[n-1] = cur // the same microsecond
		case n > 0 && pts[n-1].Running == cur.Running && pts[n-1].Ready == cur.Ready && pts[n-1].Waiting == cur.Waiting:
			// no change: one ended as another started
		default:
			pts = append(pts, cur)
		}
	}
	return pts
}

// round keeps microseconds, enough for a chart, and keeps the page small.
func round(s float64) float64 { return float64(int64(s*1e6+0.5)) / 1e6 }

// WriteHTML writes the report: one self-contained page (no network, no
// CDN) with a Gantt chart of every action on its lane, coloured by
// mnemonic, up-to-date and restored ones faded, the critical path
// outlined in red; the actions running, ready and waiting on dependencies
// over time, with the token pool's tokens in use; the machine's CPU use
// (or "not available"); and the tables per mnemonic and per target. Charts are drawn on canvases by the
// page's script, so that 10,000 actions stay light.
func (t *Timings) WriteHTML(w io.Writer) error {
	byMn, byTarget := t.Tables()
	var total time.Duration
	for _, r := range t.Results {
		total += r.End.Sub(r.Start)
	}
	bw := bufio.NewWriter(w)
	err := timingsPage().Execute(bw, map[string]any{
		"Title":      t.Title,
		"When":       t.Start.Format("2006-01-02 15:04:05 MST"),
		"Elapsed":    fmt.Sprintf("%.2fs", t.Elapsed.Seconds()),
		"Actions":    len(t.Results),
		"Jobs":       t.Jobs,
		"Total":      fmt.Sprintf("%.2fs", total.Seconds()),
		"ByMnemonic": byMn,
		"ByTarget":   byTarget,
		"Groups":     t.Groups(),
		"Data":       t.data(),
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// timingsPage is the report's template, parsed at its first use rather
// than at every start of bld (~0.15 ms of each process's start, most of
// which never writes a report).
var timingsPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("timings").Funcs(template.FuncMap{
		"secs": func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) },
		"pct":  func(f float64) string { return fmt.Sprintf("%.1f%%", f) },
		"mb":   func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) },
	}).Parse(timingsHTML))
})

const timingsHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bld timings: {{.Title}}</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
h2 { font-size: 1.1em; margin-top: 1.5em; }
.summary { color: #555; }
.chart { overflow-x: auto; border: 1px solid #ccc; position: relative; }
canvas { display: block; }
#tip { position: fixed; pointer-events: none; background: #fffbe6; border: 1px solid #aaa; padding: 3px 6px; display: none; font-size: 12px; max-width: 40em; }
table { border-collapse: collapse; margin-top: .5em; }
th, td { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
th:first-child, td:first-child { text-align: left; }
.legend span { display: inline-block; margin-right: 1em; }
.legend i { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; }
.scroll { max-height: 30em; overflow-y: auto; display: inline-block; }
</style>
</head>
<body>
<h1>bld timings: {{.Title}}</h1>
<p class="summary">{{.When}}: {{.Actions}} actions in {{.Elapsed}} with -j {{.Jobs}}; {{.Total}} of action time.
<span id="critical-summary"></span></p>

<h2>Actions</h2>
<p>Each action on the lane it ran in, coloured by mnemonic; <b>faded</b>: up to date or restored from the cache;
<span style="color:#d00"><b>red outline</b></span>: the critical path (from the action that finished last, back through the dependency each waited for).
Zoom: <select id="zoom"><option>1</option><option>2</option><option>4</option><option>8</option><option>16</option><option>32</option></select>&times;</p>
<div class="legend" id="legend"></div>
<div class="chart" id="gantt-box"><canvas id="gantt"></canvas></div>

<h2>Concurrency</h2>
<p>Actions over time: <span style="color:#1f77b4"><b>running</b></span> (commands, and the checks and restores of up-to-date actions),
<span style="color:#ff7f0e"><b>ready</b></span> (dependencies done, waiting for a check or a token) and
<span style="color:#999"><b>waiting on dependencies</b></span> (grey area), these two on a scale of their own (its top is labelled on the right);
<span style="color:#2ca02c"><b>tokens in use</b></span>: the pool's, one per running command plus those that jobserver clients (make, cargo, gcc -flto) took,
sampled while the actions ran; dashed: -j (the pool's size).</p>
<div class="chart" id="conc-box"><canvas id="concurrency" height="180"></canvas></div>

<h2>CPU</h2>
<p>The machine's CPUs busy (every process's, not only the build's), in percent of all its <span id="cpus">?</span> cores, sampled while the actions ran.
<span id="cpu-note"></span></p>
<div class="chart" id="cpu-box"><canvas id="cpu" height="100"></canvas></div>

<h2>By mnemonic</h2>
<table id="by-mnemonic">
<tr><th>mnemonic</th><th>count</th><th>ran</th><th>up to date or restored</th><th>total (s)</th><th>share</th></tr>
{{range .ByMnemonic}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.Ran}}</td><td>{{.FromDisk}}</td><td>{{secs .Total}}</td><td>{{pct .Share}}</td></tr>
{{end}}</table>

<h2>By target</h2>
<div class="scroll"><table id="by-target">
<tr><th>target</th><th>count</th><th>ran</th><th>up to date or restored</th><th>total (s)</th><th>share</th></tr>
{{range .ByTarget}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.Ran}}</td><td>{{.FromDisk}}</td><td>{{secs .Total}}</td><td>{{pct .Share}}</td></tr>
{{end}}</table></div>
{{if .Groups}}
<h2>Action groups (partitions)</h2>
<p>The members of each group that ran: their total and longest time, and the least wall time the group can take at -j {{.Jobs}},
max(longest, total / min(-j, members)). A longest member well above total / members says the partitions are unbalanced;
total / -j above the longest says more partitions would wait for cores rather than finish sooner; peak RSS is the largest compile's.</p>
<table id="by-group">
<tr><th>group</th><th>ran</th><th>total (s)</th><th>longest (s)</th><th>bound at -j (s)</th><th>peak RSS (MB)</th></tr>
{{range .Groups}}<tr><td>{{.Name}}</td><td>{{.Ran}}</td><td>{{secs .Sum}}</td><td>{{secs .Longest}}</td><td>{{secs .Bound}}</td><td>{{mb .MaxRSS}}</td></tr>
{{end}}</table>
{{end}}
<div id="tip"></div>

<script>
"use strict";
const D = {{.Data}};
const palette = ["#4e79a7","#f28e2b","#59a14f","#e15759","#76b7b2","#edc948","#b07aa1","#ff9da7","#9c755f","#bab0ac","#86bcb6","#d37295"];
const colour = i => palette[i % palette.length];
const laneH = D.lanes > 40 ? 6 : 16, phaseH = 14, axisH = 18;
const drawn = {gantt: 0, critical: 0, concurrency: 0, phases: 0, states: 0, ready: 0, tokens: 0, cpu: 0};

function legend() {
  const el = document.getElementById("legend");
  D.mnemonics.forEach((m, i) => {
    const s = document.createElement("span");
    s.innerHTML = '<i style="background:' + colour(i) + '"></i>';
    s.appendChild(document.createTextNode(m));
    el.appendChild(s);
  });
}

function scale(canvas, zoom) {
  const box = canvas.parentElement;
  const w = Math.max(400, (box.clientWidth - 2) * zoom);
  canvas.width = w;
  return x => 4 + (w - 8) * (D.end > 0 ? x / D.end : 0);
}

function axis(ctx, X, y, width) {
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif"; ctx.strokeStyle = "#ddd";
  const steps = [0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1,2,5,10,15,30,60,120,300,600,1800,3600];
  const step = steps.find(s => (X(s) - X(0)) >= 70) || 3600;
  for (let t = 0; t <= D.end + 1e-9; t += step) {
    const x = X(t);
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, ctx.canvas.height); ctx.stroke();
    ctx.fillText((step < 1 ? t.toFixed(3) : t.toFixed(0)) + "s", x + 2, y + 12);
  }
}

function gantt(zoom) {
  const c = document.getElementById("gantt");
  c.height = axisH + phaseH + 4 + D.lanes * laneH + 4;
  const X = scale(c, zoom), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  axis(ctx, X, 0, c.width);
  drawn.gantt = drawn.critical = drawn.phases = 0;
  D.phases.forEach((p, i) => {
    ctx.fillStyle = i % 2 ? "#bbb" : "#999";
    ctx.fillRect(X(p.s), axisH, Math.max(1, X(p.e) - X(p.s)), phaseH - 2);
    drawn.phases++;
  });
  const y0 = axisH + phaseH + 4;
  for (const a of D.actions) {
    const [s, e, lane, mi, st, crit] = a;
    const x = X(s), w = Math.max(1, X(e) - X(s)), y = y0 + lane * laneH;
    ctx.globalAlpha = (st === 1 || st === 2) ? 0.3 : 1;
    ctx.fillStyle = st === 3 ? "#000" : colour(mi);
    ctx.fillRect(x, y, w, laneH - 1);
    drawn.gantt++;
  }
  ctx.globalAlpha = 1;
  ctx.strokeStyle = "#d00"; ctx.lineWidth = 2;
  for (const a of D.actions) {
    if (!a[5]) continue;
    const x = X(a[0]), w = Math.max(1, X(a[1]) - X(a[0])), y = y0 + a[2] * laneH;
    ctx.strokeRect(x, y, w, laneH - 1);
    drawn.critical++;
  }
  ctx.lineWidth = 1;
  c.onmousemove = ev => {
    const r = c.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
    const lane = Math.floor((my - y0) / laneH);
    let hit = null;
    for (const a of D.actions) {
      if (a[2] === lane && X(a[0]) <= mx && mx <= Math.max(X(a[1]), X(a[0]) + 1)) { hit = a; break; }
    }
    if (!hit && my >= axisH && my < axisH + phaseH) {
      const p = D.phases.find(p => X(p.s) <= mx && mx <= X(p.e));
      if (p) hit = [p.s, p.e, -1, -1, -1, 0, "phase", p.name];
    }
    const tip = document.getElementById("tip");
    if (!hit) { tip.style.display = "none"; return; }
    tip.textContent = hit[7] + " \u2014 " + hit[6] + (hit[3] >= 0 ? " (" + D.mnemonics[hit[3]] + ", " + D.statuses[hit[4]] + ")" : "") +
      ": " + (hit[1] - hit[0]).toFixed(3) + "s from " + hit[0].toFixed(3) + "s" + (hit[5] ? ", on the critical path" : "");
    tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px"; tip.style.display = "block";
  };
  c.onmouseleave = () => { document.getElementById("tip").style.display = "none"; };
}

// steps draws pts ([t, v]: v from t on) as a step line, and returns how
// many points it drew.
function steps(ctx, X, Y, pts, col, width) {
  ctx.strokeStyle = col; ctx.lineWidth = width; ctx.beginPath();
  let prev = 0;
  ctx.moveTo(X(0), Y(0));
  for (const [t, v] of pts) { ctx.lineTo(X(t), Y(prev)); ctx.lineTo(X(t), Y(v)); prev = v; }
  ctx.lineTo(X(D.end), Y(prev));
  ctx.stroke();
  ctx.lineWidth = 1;
  return pts.length;
}

function concurrency(zoom) {
  const c = document.getElementById("concurrency");
  const X = scale(c, zoom), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  axis(ctx, X, 0, c.width);
  const S = D.states, h = c.height - axisH - 8;
  let peak = Math.max(D.jobs, D.pool, 1), wpeak = 1;
  // Running and tokens on the left scale (the pool's slots); ready and
  // waiting on the right one: a wide build readies thousands at once.
  for (const p of S) { peak = Math.max(peak, p[1]); wpeak = Math.max(wpeak, p[2], p[3]); }
  for (const p of D.tokens) peak = Math.max(peak, p[1]);
  // 1.1: room above the highest line, for the labels.
  const Y = n => c.height - 4 - h * n / (1.1 * peak), Yw = n => c.height - 4 - h * n / (1.1 * wpeak);
  // Waiting on dependencies: an area, on its own scale.
  ctx.fillStyle = "#e4e4e4"; ctx.beginPath(); ctx.moveTo(X(0), Yw(0));
  let prev = 0;
  for (const p of S) { ctx.lineTo(X(p[0]), Yw(prev)); ctx.lineTo(X(p[0]), Yw(p[3])); prev = p[3]; }
  ctx.lineTo(X(D.end), Yw(prev)); ctx.lineTo(X(D.end), Yw(0)); ctx.closePath(); ctx.fill();
  ctx.fillStyle = "#999"; ctx.textAlign = "right";
  ctx.fillText("ready, waiting: " + wpeak, c.width - 4, Yw(wpeak) - 3); ctx.textAlign = "left";
  ctx.setLineDash([4, 4]); ctx.strokeStyle = "#888";
  ctx.beginPath(); ctx.moveTo(0, Y(D.jobs)); ctx.lineTo(c.width, Y(D.jobs)); ctx.stroke();
  if (D.pool && D.pool !== D.jobs) { ctx.beginPath(); ctx.moveTo(0, Y(D.pool)); ctx.lineTo(c.width, Y(D.pool)); ctx.stroke(); }
  ctx.setLineDash([]);
  ctx.fillStyle = "#555"; ctx.fillText("-j " + D.jobs, 4, Y(D.jobs) - 2);
  if (D.pool && D.pool !== D.jobs) ctx.fillText("pool " + D.pool, 4, Y(D.pool) - 2);
  drawn.states = S.length;
  drawn.ready = steps(ctx, X, Yw, S.map(p => [p[0], p[2]]), "#ff7f0e", 1.5);
  drawn.concurrency = steps(ctx, X, Y, S.map(p => [p[0], p[1]]), "#1f77b4", 2);
  drawn.tokens = D.tokens.length ? steps(ctx, X, Y, D.tokens, "#2ca02c", 1.5) : 0;
}

function cpu(zoom) {
  const c = document.getElementById("cpu");
  const X = scale(c, zoom), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  axis(ctx, X, 0, c.width);
  drawn.cpu = 0;
  if (!D.cpus) {
    ctx.fillStyle = "#555"; ctx.font = "13px sans-serif";
    ctx.fillText("CPU use " + (D.cpuNote || "not sampled: no action ran"), 8, axisH + 24);
    return;
  }
  const Y = f => c.height - 4 - (c.height - axisH - 8) * f;
  ctx.fillStyle = "#9467bd";
  let from = D.cpuFrom;
  for (const [t, f] of D.cpu) {
    ctx.fillRect(X(from), Y(f), Math.max(1, X(t) - X(from)), Y(0) - Y(f));
    from = t; drawn.cpu++;
  }
  ctx.setLineDash([4, 4]); ctx.strokeStyle = "#888";
  for (const f of [0.5, 1]) { ctx.beginPath(); ctx.moveTo(0, Y(f)); ctx.lineTo(c.width, Y(f)); ctx.stroke(); }
  ctx.setLineDash([]);
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText("100% (" + D.cpus + " cores)", 4, Y(1) + 12); ctx.fillText("50%", 4, Y(0.5) - 2);
}

function draw() {
  const zoom = +document.getElementById("zoom").value;
  gantt(zoom); concurrency(zoom); cpu(zoom);
  window.bldTimings = {drawn: Object.assign({}, drawn), actions: D.actions.length, critical: D.critical};
}

legend();
document.getElementById("cpus").textContent = D.cpus || "?";
if (!D.cpus) document.getElementById("cpu-note").textContent = "CPU use " + (D.cpuNote || "not sampled: no action ran") + ".";
document.getElementById("critical-summary").textContent =
  "Critical path: " + D.critical + " actions, " + (D.criticalMs / 1000).toFixed(2) + "s.";
document.getElementById("zoom").onchange = draw;
window.addEventListener("resize", draw);
draw();
</script>
</body>
</html>
`
