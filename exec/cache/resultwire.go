package cache

import "google.golang.org/protobuf/encoding/protowire"

// Field numbers of the REAPI messages appendResult writes.
const (
	fieldResultOutputFiles  = 2 // ActionResult.output_files
	fieldResultStdoutRaw    = 5 // ActionResult.stdout_raw
	fieldResultStdoutDigest = 6 // ActionResult.stdout_digest
	fieldFilePath           = 1 // OutputFile.path
	fieldFileDigest         = 2 // OutputFile.digest
	fieldFileExecutable     = 4 // OutputFile.is_executable
	fieldFileContents       = 5 // OutputFile.contents
	fieldDigestHash         = 1 // Digest.hash
	fieldDigestSize         = 2 // Digest.size_bytes
)

// appendResult appends the encoding of r's REAPI ActionResult to dst: the
// very bytes reapi.Marshal(r.proto()) makes (deterministic, fields in
// number order, proto3's zero values left out; the test says so), without
// building the messages and marshalling them by reflection, which was a
// sixth of Store's cost per action.
func appendResult(dst []byte, r *actionResult) []byte {
	for _, of := range r.OutputFiles {
		dst = protowire.AppendTag(dst, fieldResultOutputFiles, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(outputFileSize(of)))
		if of.Path != "" {
			dst = protowire.AppendTag(dst, fieldFilePath, protowire.BytesType)
			dst = protowire.AppendString(dst, of.Path)
		}
		// The digest is always set (an empty message when zero).
		dst = protowire.AppendTag(dst, fieldFileDigest, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(digestSize(of.Digest.Hash, of.Digest.Size)))
		dst = appendDigest(dst, of.Digest.Hash, of.Digest.Size)
		if of.IsExecutable {
			dst = protowire.AppendTag(dst, fieldFileExecutable, protowire.VarintType)
			dst = protowire.AppendVarint(dst, 1)
		}
		if len(of.Contents) > 0 {
			dst = protowire.AppendTag(dst, fieldFileContents, protowire.BytesType)
			dst = protowire.AppendBytes(dst, of.Contents)
		}
	}
	if r.StdoutDigest.IsZero() {
		return dst
	}
	if len(r.StdoutRaw) > 0 {
		dst = protowire.AppendTag(dst, fieldResultStdoutRaw, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r.StdoutRaw)
	}
	dst = protowire.AppendTag(dst, fieldResultStdoutDigest, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(digestSize(r.StdoutDigest.Hash, r.StdoutDigest.Size)))
	return appendDigest(dst, r.StdoutDigest.Hash, r.StdoutDigest.Size)
}

// appendDigest appends the fields of a Digest message.
func appendDigest(dst []byte, hash string, size int64) []byte {
	if hash != "" {
		dst = protowire.AppendTag(dst, fieldDigestHash, protowire.BytesType)
		dst = protowire.AppendString(dst, hash)
	}
	if size != 0 {
		dst = protowire.AppendTag(dst, fieldDigestSize, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(size))
	}
	return dst
}

// digestSize is the size of a Digest message's fields.
func digestSize(hash string, size int64) int {
	n := 0
	if hash != "" {
		n += protowire.SizeTag(fieldDigestHash) + protowire.SizeBytes(len(hash))
	}
	if size != 0 {
		n += protowire.SizeTag(fieldDigestSize) + protowire.SizeVarint(uint64(size))
	}
	return n
}

// outputFileSize is the size of an OutputFile message's fields.
func outputFileSize(of outputFile) int {
	n := protowire.SizeTag(fieldFileDigest) + protowire.SizeBytes(digestSize(of.Digest.Hash, of.Digest.Size))
	if of.Path != "" {
		n += protowire.SizeTag(fieldFilePath) + protowire.SizeBytes(len(of.Path))
	}
	if of.IsExecutable {
		n += protowire.SizeTag(fieldFileExecutable) + protowire.SizeVarint(1)
	}
	if len(of.Contents) > 0 {
		n += protowire.SizeTag(fieldFileContents) + protowire.SizeBytes(len(of.Contents))
	}
	return n
}
