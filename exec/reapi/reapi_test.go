package reapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"bld/exec/digest"
)

// protoMarshal is what any protobuf library produces: the reference the
// helpers are checked against.
func protoMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refDigest is the REAPI Digest of b, computed without package digest.
func refDigest(b []byte) *repb.Digest {
	sum := sha256.Sum256(b)
	return &repb.Digest{Hash: hex.EncodeToString(sum[:]), SizeBytes: int64(len(b))}
}

// TestCommandEncoding spells out the wire bytes of a Command, so that a
// change of what NewCommand sets is seen here first.
func TestCommandEncoding(t *testing.T) {
	c := NewCommand([]string{"a", ""}, []string{"X=", "A-B=1"}, []string{"p", "o"})
	want := []byte{
		0x0a, 1, 'a', // arguments
		0x0a, 0, // an empty argument is still present
		0x12, 8, 0x0a, 3, 'A', '-', 'B', 0x12, 1, '1', // env, sorted by name
		0x12, 3, 0x0a, 1, 'X', // empty value omitted
		0x1a, 1, 'o', 0x1a, 1, 'p', // output_files (3, deprecated), sorted
		0x3a, 1, 'o', 0x3a, 1, 'p', // output_paths (7), sorted
	}
	got, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Command encoding\n got % x\nwant % x", got, want)
	}
	// Stable by name; the caller's lists are not modified.
	env, outs := []string{"B=2", "A", "B=1"}, []string{"z", "y"}
	c = NewCommand(nil, env, outs)
	wantCmd := &Command{
		EnvironmentVariables: []EnvironmentVariable{{Name: "A"}, {Name: "B", Value: "2"}, {Name: "B", Value: "1"}},
		OutputFiles:          []string{"y", "z"},
		OutputPaths:          []string{"y", "z"},
	}
	if diff := cmp.Diff(wantCmd, c); diff != "" {
		t.Errorf("NewCommand (-want +got):\n%s", diff)
	}
	if !slices.Equal(env, []string{"B=2", "A", "B=1"}) || !slices.Equal(outs, []string{"z", "y"}) {
		t.Errorf("NewCommand modified its arguments: %q %q", env, outs)
	}
	c.OutputFiles[0] = "changed"
	if c.OutputPaths[0] != "y" {
		t.Errorf("OutputFiles and OutputPaths share elements")
	}
	if _, err := Marshal(NewCommand([]string{"\xff"}, nil, nil)); err == nil {
		t.Errorf("a Command with an argument that is not UTF-8 encoded")
	}
}

// TestActionEncoding: the bytes the hand-written encoder bld used before
// the generated types produced for this Action, which the protobuf
// library produces too.
func TestActionEncoding(t *testing.T) {
	a := &Action{
		CommandDigest:   digest.Digest{Hash: "ab", Size: 300},
		InputRootDigest: digest.Digest{Hash: "c"},
		DoNotCache:      true,
		Salt:            []byte("s"),
		Platform:        PlatformOf(map[string]string{"OSFamily": "linux"}),
	}
	want := []byte{
		0x0a, 7, 0x0a, 2, 'a', 'b', 0x10, 0xac, 0x02, // command_digest; size 300 as a varint
		0x12, 3, 0x0a, 1, 'c', // input_root_digest; size 0 omitted
		0x38, 1, // do_not_cache (7)
		0x4a, 1, 's', // salt (9)
		0x52, 19, 0x0a, 17, 0x0a, 8, 'O', 'S', 'F', 'a', 'm', 'i', 'l', 'y', 0x12, 5, 'l', 'i', 'n', 'u', 'x', // platform (10)
	}
	got, err := Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Action encoding\n got % x\nwant % x", got, want)
	}
}

func TestPlatformOf(t *testing.T) {
	if p := PlatformOf(nil); p != nil {
		t.Errorf("PlatformOf(nil) = %v, want nil", p)
	}
	got := PlatformOf(map[string]string{"b": "1", "a": "2", "OSFamily": "linux", "": "x"})
	want := []Property{{"", "x"}, {"OSFamily", "linux"}, {"a", "2"}, {"b", "1"}}
	if !slices.Equal(got, want) {
		t.Errorf("PlatformOf = %v, want %v", got, want)
	}
}

// actionKeyWant is the digest of the Action of TestActionKeyPinned. If it
// changes, every action key bld computes may have changed: bump keyVersion
// in exec/cache, so that old cache entries become misses.
const actionKeyWant = "52251ec7a43830bb1998bae99d1da2c147019e72553b772bf8fa60c1282fadc4"

// TestActionKeyPinned computes the key of a known action with the helpers
// the cache uses, and checks every message against one built field by
// field and encoded by the protobuf library, and the key against a
// constant.
func TestActionKeyPinned(t *testing.T) {
	mainC, aH, genSh := []byte("int main(void) { return 0; }\n"), []byte("#pragma once\n"), []byte("#!/bin/sh\n")
	argv := []string{"/bin/sh", "-c", "gcc -Isrc/inc -o bld-out/app src/main.c && tools/gen.sh >bld-out/app.txt"}
	salt := []byte("bld-key test\ntool none\nexecroot unfixed\n")

	// By hand.
	inc := &repb.Directory{Files: []*repb.FileNode{{Name: "a.h", Digest: refDigest(aH)}}}
	src := &repb.Directory{
		Files:       []*repb.FileNode{{Name: "main.c", Digest: refDigest(mainC)}},
		Directories: []*repb.DirectoryNode{{Name: "inc", Digest: refDigest(protoMarshal(t, inc))}},
	}
	tools := &repb.Directory{Files: []*repb.FileNode{{Name: "gen.sh", Digest: refDigest(genSh), IsExecutable: true}}}
	root := &repb.Directory{Directories: []*repb.DirectoryNode{
		{Name: "src", Digest: refDigest(protoMarshal(t, src))},
		{Name: "tools", Digest: refDigest(protoMarshal(t, tools))},
	}}
	wantDirs := [][]byte{protoMarshal(t, inc), protoMarshal(t, src), protoMarshal(t, tools), protoMarshal(t, root)}
	cmdByHand := &repb.Command{
		Arguments: argv,
		EnvironmentVariables: []*repb.Command_EnvironmentVariable{
			{Name: "LANG", Value: "C"}, {Name: "SOURCE_DATE_EPOCH", Value: "0"}, {Name: "TZ", Value: "UTC"},
		},
		OutputFiles: []string{"bld-out/app", "bld-out/app.txt"},
		OutputPaths: []string{"bld-out/app", "bld-out/app.txt"},
	}
	actByHand := &repb.Action{
		CommandDigest:   refDigest(protoMarshal(t, cmdByHand)),
		InputRootDigest: refDigest(protoMarshal(t, root)),
		Salt:            salt,
		Platform: &repb.Platform{Properties: []*repb.Platform_Property{
			{Name: "OSFamily", Value: "linux"}, {Name: "container-image", Value: "docker://gcc:14"},
		}},
	}
	wantAction := protoMarshal(t, actByHand)

	// With the helpers, from lists in no particular order.
	cmdDigest, cmdBytes, err := DigestOf(NewCommand(argv, []string{"TZ=UTC", "LANG=C", "SOURCE_DATE_EPOCH=0"}, []string{"bld-out/app.txt", "bld-out/app"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := protoMarshal(t, cmdByHand); !bytes.Equal(cmdBytes, want) {
		t.Errorf("Command\n got % x\nwant % x", cmdBytes, want)
	}
	var dirs [][]byte
	rootDigest, err := MerkleRoot([]InputFile{
		{Path: "tools/gen.sh", Digest: digest.OfBytes(genSh), IsExecutable: true},
		{Path: "src/main.c", Digest: digest.OfBytes(mainC)},
		{Path: "src/inc/a.h", Digest: digest.OfBytes(aH)},
	}, func(d digest.Digest, b []byte) {
		if d != digest.OfBytes(b) {
			t.Errorf("emitted %v with bytes of digest %v", d, digest.OfBytes(b))
		}
		dirs = append(dirs, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDirs, dirs); diff != "" {
		t.Errorf("Directories emitted (children first), (-want +got):\n%s", diff)
	}
	act := &Action{
		CommandDigest:   cmdDigest,
		InputRootDigest: rootDigest,
		Salt:            salt,
		Platform:        PlatformOf(map[string]string{"container-image": "docker://gcc:14", "OSFamily": "linux"}),
	}
	key, actBytes, err := DigestOf(act)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(actBytes, wantAction) {
		t.Errorf("Action\n got % x\nwant % x", actBytes, wantAction)
	}
	if key.Hash != actionKeyWant {
		t.Errorf("action key %s, want %s", key.Hash, actionKeyWant)
	}
}

func TestMerkleRoot(t *testing.T) {
	empty, err := MerkleRoot(nil, nil)
	if err != nil || empty != digest.Empty {
		t.Errorf("empty tree: %v, %v; want %v", empty, err, digest.Empty)
	}
	fa, fb := digest.OfBytes([]byte("a")), digest.OfBytes([]byte("b"))
	var emitted []digest.Digest
	files := []InputFile{{Path: "x/b", Digest: fb}, {Path: "a", Digest: fa, IsExecutable: true}, {Path: "a", Digest: fa, IsExecutable: true}}
	got, err := MerkleRoot(files, func(d digest.Digest, _ []byte) { emitted = append(emitted, d) })
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Path != "x/b" {
		t.Errorf("MerkleRoot reordered its argument")
	}
	sub := refDigest(protoMarshal(t, &repb.Directory{Files: []*repb.FileNode{{Name: "b", Digest: protoDigest(fb)}}}))
	root := refDigest(protoMarshal(t, &repb.Directory{
		Files:       []*repb.FileNode{{Name: "a", Digest: protoDigest(fa), IsExecutable: true}},
		Directories: []*repb.DirectoryNode{{Name: "x", Digest: sub}},
	}))
	want := []digest.Digest{fromProtoDigest(sub), fromProtoDigest(root)}
	if got != want[1] || !slices.Equal(emitted, want) {
		t.Errorf("MerkleRoot = %v, emitted %v; want %v, %v", got, emitted, want[1], want)
	}
	for _, bad := range [][]InputFile{
		{{Path: ""}}, {{Path: "."}}, {{Path: "/abs"}}, {{Path: "../up"}}, {{Path: ".."}}, {{Path: "a//b"}}, {{Path: "a/"}},
		{{Path: "a/./b"}}, {{Path: "a\xff"}},
		{{Path: "a"}, {Path: "a/b"}}, {{Path: "a/b"}, {Path: "a"}}, {{Path: "d/a"}, {Path: "d/a.c"}, {Path: "d/a/b"}},
		{{Path: "a", Digest: fa}, {Path: "a", Digest: fb}},
		{{Path: "a", Digest: fa}, {Path: "a", Digest: fa, IsExecutable: true}},
	} {
		if _, err := MerkleRoot(bad, nil); err == nil {
			t.Errorf("MerkleRoot(%v) succeeded", bad)
		}
	}
}

// TestMerkleRootReference compares MerkleRoot with a direct construction
// (a map per directory, names sorted) on random trees whose names are
// prefixes of each other and sort around '/'.
func TestMerkleRootReference(t *testing.T) {
	names := []string{"a", "a.c", "a-b", "ab", "b", "a0", "é", "Z"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		seen := map[string]bool{}
		var files []InputFile
		for range rng.IntN(20) {
			parts := make([]string, 1+rng.IntN(3))
			for i := range parts {
				parts[i] = names[rng.IntN(len(names))]
			}
			p := strings.Join(parts, "/")
			clash := seen[p]
			for q := range seen {
				if strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
					clash = true
				}
			}
			if clash {
				continue
			}
			seen[p] = true
			files = append(files, InputFile{Path: p, Digest: digest.OfBytes([]byte(p)), IsExecutable: rng.IntN(2) == 0})
			if rng.IntN(5) == 0 {
				files = append(files, files[len(files)-1])
			}
		}
		var got, want []digest.Digest
		root, err := MerkleRoot(files, func(d digest.Digest, _ []byte) { got = append(got, d) })
		if err != nil {
			t.Fatalf("MerkleRoot(%v): %v", files, err)
		}
		wantRoot := referenceTree(t, files, func(d digest.Digest) { want = append(want, d) })
		if root != wantRoot || !slices.Equal(got, want) {
			t.Fatalf("MerkleRoot(%v) = %v, emitted %v; want %v, %v", files, root, got, wantRoot, want)
		}
	}
}

func referenceTree(t *testing.T, files []InputFile, emit func(digest.Digest)) digest.Digest {
	type node struct {
		files map[string]InputFile
		dirs  map[string]*node
	}
	newNode := func() *node { return &node{files: map[string]InputFile{}, dirs: map[string]*node{}} }
	root := newNode()
	for _, f := range files {
		parts := strings.Split(f.Path, "/")
		n := root
		for _, d := range parts[:len(parts)-1] {
			if n.dirs[d] == nil {
				n.dirs[d] = newNode()
			}
			n = n.dirs[d]
		}
		n.files[parts[len(parts)-1]] = f
	}
	var build func(n *node) digest.Digest
	build = func(n *node) digest.Digest {
		d := &repb.Directory{}
		for _, name := range sortedKeys(n.files) {
			f := n.files[name]
			d.Files = append(d.Files, &repb.FileNode{Name: name, Digest: protoDigest(f.Digest), IsExecutable: f.IsExecutable})
		}
		for _, name := range sortedKeys(n.dirs) {
			d.Directories = append(d.Directories, &repb.DirectoryNode{Name: name, Digest: protoDigest(build(n.dirs[name]))})
		}
		dg := fromProtoDigest(refDigest(protoMarshal(t, d)))
		emit(dg)
		return dg
	}
	return build(root)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestComparePaths(t *testing.T) {
	want := []string{"a", "a/b", "a/b/c", "a/bc", "a-b", "a.c", "ab", "b"}
	got := slices.Clone(want)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	slices.SortFunc(got, comparePaths)
	if !slices.Equal(got, want) {
		t.Errorf("sorted %q, want %q", got, want)
	}
	for _, p := range want {
		if c := comparePaths(p, p); c != 0 {
			t.Errorf("comparePaths(%q, itself) = %d", p, c)
		}
	}
}
