package sandbox

import (
	"encoding/binary"
	"errors"
)

// The messages between bld and the zygote (zygote_linux.go), one
// SOCK_SEQPACKET message each on the control socket. Each starts with a
// kind byte and the 8-byte id (little endian) of the command it is about,
// which bld chooses:
//
//	bld to zygote:  'r' id request   (with the command's descriptors as SCM_RIGHTS)
//	                'k' id           (kill the command's process group)
//	zygote to bld:  'p' id pid       (started; pid as 8 bytes; only when
//	                                  the request asks for it)
//	                'e' id message   (could not start it)
//	                'x' id status rss (it ended and was reaped: wait status
//	                                  and ru_maxrss in KiB, 8 bytes each)
//	                'w' id message   (it could not be waited for)
//
// So a command whose pid bld does not need (one in a pid namespace of its
// own: nothing it started outlives it, the zygote or bld) costs one
// answer, 'x' or 'e', rather than two.
//
// A request is zygoteRequest in a compact binary form (appendRequest):
// every string is its length as a uvarint then its bytes, every list its
// length as a uvarint then its elements.
const (
	msgRequest = 'r'
	msgKill    = 'k'
	msgPid     = 'p'
	msgErr     = 'e'
	msgExit    = 'x'
	msgWaitErr = 'w'
)

// msgHeader is the size of a message's kind and id.
const msgHeader = 9

// zygoteRequest is what bld asks the zygote to run: the helper's
// arguments, as namespaceCommand passes them, with the plan itself instead
// of its file.
type zygoteRequest struct {
	Plan      mountPlan
	Path      string
	Argv, Env []string
	Pidns     bool
	// WantPid asks for the 'p' answer once the command started.
	WantPid bool
	Files   int // descriptors sent: the output (the command's stdout and stderr), then the extra files
}

// appendMsg appends a message's kind and id to b.
func appendMsg(b []byte, kind byte, id uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(b, kind), id)
}

// parseMsg splits a message into its kind, id and body.
func parseMsg(m []byte) (kind byte, id uint64, body []byte, ok bool) {
	if len(m) < msgHeader {
		return 0, 0, nil, false
	}
	return m[0], binary.LittleEndian.Uint64(m[1:msgHeader]), m[msgHeader:], true
}

// appendRequest appends the encoding of r to b.
func appendRequest(b []byte, r *zygoteRequest) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	list := func(l []string) {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	str(r.Plan.Root)
	list(r.Plan.Inputs)
	b = binary.AppendUvarint(b, uint64(len(r.Plan.Outs)))
	for _, o := range r.Plan.Outs {
		str(o.Dir)
		str(o.Pool)
	}
	list(r.Plan.Dirs)
	str(r.Path)
	list(r.Argv)
	list(r.Env)
	flags := byte(0)
	if r.Pidns {
		flags |= 1
	}
	if r.WantPid {
		flags |= 2
	}
	b = append(b, flags)
	return binary.AppendUvarint(b, uint64(r.Files))
}

var errBadRequest = errors.New("malformed request")

// parseRequest decodes what appendRequest encoded; it fails on anything
// else, trailing bytes included. The request's strings are parts of one
// copy of b (one allocation, not one per string: a request holds some
// tens), so b may be reused once it returns.
func parseRequest(b []byte) (*zygoteRequest, error) {
	all := string(b)
	bad := false
	num := func() int {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<30 {
			bad = true
			return 0
		}
		b = b[k:]
		return int(n)
	}
	str := func() string {
		n := num()
		if bad || n > len(b) {
			bad = true
			return ""
		}
		at := len(all) - len(b)
		b = b[n:]
		return all[at : at+n]
	}
	list := func() []string {
		n := num()
		if bad || n > len(b) { // each element takes a byte at least
			bad = true
		}
		if bad || n == 0 {
			return nil
		}
		l := make([]string, n)
		for i := range l {
			l[i] = str()
		}
		return l
	}
	r := &zygoteRequest{}
	r.Plan.Root = str()
	r.Plan.Inputs = list()
	if n := num(); !bad && n > len(b) {
		bad = true
	} else if !bad && n > 0 {
		r.Plan.Outs = make([]outBind, n)
		for i := range r.Plan.Outs {
			r.Plan.Outs[i] = outBind{Dir: str(), Pool: str()}
		}
	}
	r.Plan.Dirs = list()
	r.Path = str()
	r.Argv = list()
	r.Env = list()
	if bad || len(b) == 0 || b[0] > 3 {
		return nil, errBadRequest
	}
	r.Pidns, r.WantPid = b[0]&1 != 0, b[0]&2 != 0
	b = b[1:]
	r.Files = num()
	if bad || len(b) != 0 {
		return nil, errBadRequest
	}
	return r, nil
}

// ErrNotStarted is what Started.Wait returns (wrapped, with the zygote's
// reason) when the zygote could not start the command.
var ErrNotStarted = errors.New("the zygote did not start the command")
