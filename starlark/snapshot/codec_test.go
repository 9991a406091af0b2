package snapshot

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/graph"
	"bld/starlark/label"
	"bld/starlark/workspace"
)

// fullAction returns an action with every field set to a value other than
// its zero value, by reflection, so that a field added to graph.Action and
// left out of the encoding fails TestCodecCoversAction.
func fullAction(t *testing.T, seed string) *graph.Action {
	t.Helper()
	a := &graph.Action{More: &graph.More{}}
	fillFields(t, seed, reflect.ValueOf(a).Elem())
	fillFields(t, seed, reflect.ValueOf(a.More).Elem())
	return a
}

// fillFields sets every field of the struct v but a *graph.More.
func fillFields(t *testing.T, seed string, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(seed + "-" + name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int64: // time.Duration
			f.SetInt(int64(3 * time.Second))
		case reflect.Slice:
			switch f.Type().Elem().Kind() {
			case reflect.String:
				f.Set(reflect.ValueOf([]string{seed + "-" + name + "-0", "shared", seed + "-" + name + "-1"}))
			case reflect.Uint8:
				f.SetBytes([]byte("content of " + seed))
			default:
				t.Fatalf("graph.Action.%s: a field type the test does not know; teach the codec and this test", name)
			}
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"OSFamily": "linux", seed: name}))
		case reflect.Pointer:
			if f.Type() != reflect.TypeOf((*graph.More)(nil)) {
				t.Fatalf("graph.Action.%s: a field type the test does not know; teach the codec and this test", name)
			}
		default:
			t.Fatalf("graph.Action.%s: a field type the test does not know; teach the codec and this test", name)
		}
	}
}

func sampleSnapshot(t *testing.T) *Snapshot {
	t.Helper()
	return &Snapshot{
		Key: Key("bld 1", "//..."),
		Reads: &workspace.Reads{
			Files:    map[string]string{"BUILD.star": "abc", "p/BUILD.star": "def", "gone.star": ""},
			Globs:    []workspace.GlobRead{{Pkg: "p", Include: []string{"*.c"}, Result: []string{"p/a.c"}}, {Pkg: "q", Include: []string{"*"}, Exclude: []string{}, Result: nil}},
			Packages: map[string][]string{"": {"", "p"}, "q": nil},
			Exists:   map[string]bool{"p/a.c": true, "p/b.c": false},
		},
		Env: map[string]EnvValue{"HOME": {Value: "/h", Set: true}, "GOPATH": {}},
		Actions: []*graph.Action{
			fullAction(t, "a"),
			{Owner: "//p:b", Mnemonic: "Genrule", Argv: []string{"sh", "-c", "x"}, Env: []string{"PATH=/bin"}, Inputs: []string{"p/a.c"}, Outputs: []string{"bld-out/p/b"}},
			{Owner: "//p:w", Mnemonic: "FileWrite", More: &graph.More{Timeout: -1, Content: []byte{}}, Outputs: []string{"bld-out/p/w"}},
		},
		Goals: []string{"bld-out/p/b", "bld-out/p/w"},
		Index: NewIndex([]Package{{Path: "p", Files: []string{"p/BUILD.star"}, Roots: []string{"b", "w"}}},
			[]Target{
				{Label: label.Label{Pkg: "p", Name: "a"}, Actions: 1},
				{Label: label.Label{Pkg: "p", Name: "b"}, Actions: 1, Children: []label.Label{{Pkg: "p", Name: "a"}}, Goals: []string{"bld-out/p/b"}, Env: []string{"HOME"}},
				{Label: label.Label{Pkg: "p", Name: "w"}, Actions: 1, Goals: []string{"bld-out/p/w"}},
			}, []string{"bld-out/p/b", "bld-out/p/w"}),
	}
}

func TestCodecCoversAction(t *testing.T) {
	s := sampleSnapshot(t)
	if s.Index == nil {
		t.Fatal("the sample's index is nil")
	}
	data, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("decoded snapshot differs (-encoded +decoded):\n%s", diff)
	}
	// Equal strings are stored once and decoded into one.
	a, b := got.Actions[0].Argv[1], got.Actions[0].Env[1]
	if a != "shared" || b != "shared" || &[]byte(a)[0] == nil || len(got.Actions) != 3 {
		t.Fatalf("unexpected decoding: %q %q", a, b)
	}
	if n := bytes.Count(data, []byte("shared")); n != 1 {
		t.Errorf("the string \"shared\" is stored %d times, want once", n)
	}
	// An action that sets none of More's fields decodes with no More: a
	// no-op build keeps every action decoded.
	if m := got.Actions[1].More; m != nil {
		t.Errorf("a plain genrule decoded with More %+v, want nil", m)
	}
}

func TestCodecEmpty(t *testing.T) {
	for _, s := range []*Snapshot{
		{},
		{Key: "k", Reads: &workspace.Reads{}, Env: map[string]EnvValue{}, Actions: []*graph.Action{}, Goals: []string{}, Index: &Index{}},
	} {
		data, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("decoded snapshot differs (-encoded +decoded):\n%s", diff)
		}
	}
}

func TestCodecDeterministic(t *testing.T) {
	first, err := Encode(sampleSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		// Maps iterate in a new order each time.
		again, err := Encode(sampleSnapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("the same snapshot encodes into different bytes")
		}
	}
}

// TestEncodeHeadIgnoresReadsAndIndex checks the two steps of Analyze's
// encoding: the head reads neither Reads nor Index (they are made while it
// is encoded), and Finish with them gives Encode's bytes, which decode into
// the snapshot.
func TestEncodeHeadIgnoresReadsAndIndex(t *testing.T) {
	s := sampleSnapshot(t)
	want, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	partial := *s
	partial.Reads, partial.Index = nil, nil
	h, err := EncodeHead(&partial)
	if err != nil {
		t.Fatal(err)
	}
	got := h.Finish(s.Reads, s.Index, s.Links)
	if !bytes.Equal(got, want) {
		t.Fatal("EncodeHead then Finish gave other bytes than Encode")
	}
	back, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back, cmp.AllowUnexported(Index{})); diff != "" {
		t.Errorf("decoded snapshot differs (-want +got):\n%s", diff)
	}
	if _, err := EncodeHead(&Snapshot{Actions: []*graph.Action{nil}}); err == nil {
		t.Error("EncodeHead took a nil action")
	}
}

func TestCodecRejectsDamage(t *testing.T) {
	data, err := Encode(sampleSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation, and every byte changed, is detected.
	for n := range len(data) {
		if s, err := Decode(data[:n]); err == nil {
			t.Fatalf("a snapshot truncated to %d of %d bytes decodes: %+v", n, len(data), s)
		}
	}
	for i := range data {
		damaged := bytes.Clone(data)
		damaged[i] ^= 0x20
		if _, err := Decode(damaged); err == nil {
			t.Fatalf("a snapshot with byte %d of %d changed decodes", i, len(data))
		}
	}
	if _, err := Decode(append(bytes.Clone(data), 0)); err == nil {
		t.Fatal("a snapshot with a byte appended decodes")
	}
	if _, err := Decode(nil); err == nil {
		t.Fatal("no bytes decode")
	}
}

func TestEncodeRefusesNilAction(t *testing.T) {
	if _, err := Encode(&Snapshot{Actions: []*graph.Action{nil}}); err == nil {
		t.Fatal("a nil action encodes")
	}
}
