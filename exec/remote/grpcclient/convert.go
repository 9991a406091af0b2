package grpcclient

import (
	"fmt"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// Conversions between bld's REAPI types (exec/reapi), which the rest of
// bld uses, and the generated messages the RPCs take. A message is
// converted by encoding it on one side and decoding it on the other: the
// two encodings are the same (exec/reapi's tests say so).

// digestToProto returns d as a REAPI Digest message.
func digestToProto(d digest.Digest) *repb.Digest {
	return &repb.Digest{Hash: d.Hash, SizeBytes: d.Size}
}

// digestFromProto returns the digest a REAPI Digest message holds; nil is
// the zero Digest. It does not validate the hash.
func digestFromProto(d *repb.Digest) digest.Digest {
	return digest.Digest{Hash: d.GetHash(), Size: d.GetSizeBytes()}
}

// resultToProto returns r as the generated ActionResult.
func resultToProto(r *reapi.ActionResult) (*repb.ActionResult, error) {
	b, err := reapi.Marshal(r)
	if err != nil {
		return nil, err
	}
	m := &repb.ActionResult{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("converting an ActionResult: %w", err)
	}
	return m, nil
}

// resultFromProto returns the generated ActionResult m as bld's; fields
// bld does not read are dropped.
func resultFromProto(m *repb.ActionResult) (*reapi.ActionResult, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("converting an ActionResult: %w", err)
	}
	return reapi.UnmarshalActionResult(b)
}
