package reapi

// TEMPORARY (branch split): the types wire12 defines; removed at merge.

import "bld/exec/digest"

type OutputFile struct {
	Path         string
	Digest       digest.Digest
	IsExecutable bool
	Contents     []byte
}

type ActionResult struct {
	OutputFiles  []OutputFile
	ExitCode     int32
	StdoutRaw    []byte
	StdoutDigest digest.Digest
	StderrRaw    []byte
	StderrDigest digest.Digest
}

type ExecuteResponse struct {
	Result       *ActionResult
	CachedResult bool
	Status       Status
	Message      string
}

type Status struct {
	Code    int32
	Message string
}
