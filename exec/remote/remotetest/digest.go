package remotetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"github.com/bazelbuild/remote-apis/build/bazel/semver"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// emptyHash is the SHA-256 of no bytes.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// DigestOf returns the SHA-256 digest of data.
func DigestOf(data []byte) *repb.Digest {
	h := sha256.Sum256(data)
	return &repb.Digest{Hash: hex.EncodeToString(h[:]), SizeBytes: int64(len(data))}
}

// DigestOfMessage returns the digest of m's deterministic serialization, and
// the serialization.
func DigestOfMessage(m proto.Message) (*repb.Digest, []byte) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return DigestOf(b), b
}

// key is the map key of a digest: "hash/size".
func key(d *repb.Digest) string {
	return d.GetHash() + "/" + strconv.FormatInt(d.GetSizeBytes(), 10)
}

// checkDigest validates the form of a digest: a SHA-256 hash in lowercase
// hex and a size >= 0. what names the field for the error message.
func checkDigest(d *repb.Digest, what string) error {
	if d == nil {
		return errorf(codes.InvalidArgument, "%s: missing digest", what)
	}
	if len(d.Hash) != 64 {
		return errorf(codes.InvalidArgument, "%s: hash %q is not a SHA-256 hash (64 hex digits); this server supports SHA256 only", what, d.Hash)
	}
	for _, c := range d.Hash {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return errorf(codes.InvalidArgument, "%s: hash %q is not lowercase hex", what, d.Hash)
		}
	}
	if d.SizeBytes < 0 {
		return errorf(codes.InvalidArgument, "%s: negative size %d", what, d.SizeBytes)
	}
	return nil
}

// checkData verifies that data has digest d.
func checkData(d *repb.Digest, data []byte) error {
	if int64(len(data)) != d.GetSizeBytes() {
		return errorf(codes.InvalidArgument, "blob %s: got %d bytes, digest says %d", key(d), len(data), d.GetSizeBytes())
	}
	if got := DigestOf(data); got.Hash != d.GetHash() {
		return errorf(codes.InvalidArgument, "blob %s: data hashes to %s", key(d), got.Hash)
	}
	return nil
}

// checkDigestFunction rejects digest functions other than SHA256 (and
// UNKNOWN, which means "infer from the hash", i.e. SHA256 here).
func checkDigestFunction(f repb.DigestFunction_Value) error {
	if f != repb.DigestFunction_UNKNOWN && f != repb.DigestFunction_SHA256 {
		return errorf(codes.InvalidArgument, "digest function %v not supported; this server supports SHA256 only", f)
	}
	return nil
}

// missingError is FAILED_PRECONDITION with a PreconditionFailure listing
// each digest as a MISSING violation with subject "blobs/{hash}/{size}",
// as the REAPI spec asks of Execute.
func missingError(msg string, ds []*repb.Digest) *status.Status {
	st := status.New(codes.FailedPrecondition, "remotetest: "+msg)
	pf := &errdetails.PreconditionFailure{}
	for _, d := range ds {
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
			Type:        "MISSING",
			Subject:     "blobs/" + key(d),
			Description: "blob not in the CAS",
		})
	}
	if st2, err := st.WithDetails(pf); err == nil {
		return st2
	}
	return st
}

// parseSemVer parses "MAJOR.MINOR[.PATCH]".
func parseSemVer(v string) (*semver.SemVer, error) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("remotetest: API version %q: want MAJOR.MINOR", v)
	}
	var n [3]int32
	for i, p := range parts {
		x, err := strconv.ParseInt(p, 10, 32)
		if err != nil || x < 0 {
			return nil, fmt.Errorf("remotetest: API version %q: want MAJOR.MINOR", v)
		}
		n[i] = int32(x)
	}
	return &semver.SemVer{Major: n[0], Minor: n[1], Patch: n[2]}, nil
}
