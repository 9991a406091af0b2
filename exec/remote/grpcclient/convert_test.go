package grpcclient

import (
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// The conversions at the RPC boundary keep every field bld reads, and
// drop the others.
func TestResultConversion(t *testing.T) {
	r := &reapi.ActionResult{
		OutputFiles:  []reapi.OutputFile{{Path: "o", Digest: digest.OfBytes([]byte("x")), IsExecutable: true, Contents: []byte("x")}, {Path: "e", Digest: digest.Empty}},
		ExitCode:     -2,
		StdoutRaw:    []byte("out"),
		StdoutDigest: digest.OfBytes([]byte("out")),
		StderrDigest: digest.Digest{Hash: digest.Empty.Hash, Size: 70000},
	}
	m, err := resultToProto(r)
	if err != nil {
		t.Fatal(err)
	}
	if m.GetExitCode() != -2 || len(m.GetOutputFiles()) != 2 || !m.GetOutputFiles()[0].GetIsExecutable() ||
		digestFromProto(m.GetStderrDigest()) != r.StderrDigest || string(m.GetStdoutRaw()) != "out" {
		t.Errorf("resultToProto = %v", m)
	}
	m.ExecutionMetadata = &repb.ExecutedActionMetadata{Worker: "w"}
	m.OutputDirectories = []*repb.OutputDirectory{{Path: "d"}}
	back, err := resultFromProto(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.OutputFiles) != 2 || back.OutputFiles[0].Path != "o" || string(back.OutputFiles[0].Contents) != "x" ||
		back.OutputFiles[1].Digest != digest.Empty || back.ExitCode != -2 || back.StdoutDigest != r.StdoutDigest ||
		back.StderrDigest != r.StderrDigest || string(back.StdoutRaw) != "out" {
		t.Errorf("resultFromProto = %+v, want %+v", back, r)
	}
	if _, err := resultToProto(&reapi.ActionResult{OutputFiles: []reapi.OutputFile{{Path: "\xff"}}}); err == nil {
		t.Errorf("a path that is not UTF-8 converted")
	}
}
