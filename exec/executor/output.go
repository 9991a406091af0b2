package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Output limits: what a command prints is kept in memory up to
// outputHeadLimit bytes from its start and outputTailLimit bytes from its
// end; the rest is only in the log file (LogDir), whose path the kept
// output names. A build that prints gigabytes neither holds them in memory
// nor stores them in the cache nor prints them again on every restore.
const (
	outputHeadLimit = 512 << 10
	outputTailLimit = 512 << 10
)

// boundedOutput is an io.Writer that keeps a command's output as described
// above. It is written by one goroutine; read it with Bytes once writing is
// over.
type boundedOutput struct {
	logPath string // where the whole output goes once it overflows; "" keeps none
	// logDir and outputs, when logPath is "", name it (logPathFor) once
	// it is needed: most commands never print that much.
	logDir  string
	outputs []string
	head    []byte
	tail    []byte // a ring of the last bytes, once head is full
	tailPos int    // next write position in tail, once it is full
	total   int64
	log     *os.File
	logErr  error
}

func (b *boundedOutput) Write(p []byte) (int, error) {
	n := len(p)
	b.total += int64(n)
	if len(b.head) < outputHeadLimit {
		k := min(outputHeadLimit-len(b.head), len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
		if len(p) == 0 {
			return n, nil
		}
	}
	if b.log == nil && b.logErr == nil && b.logPath == "" {
		b.logPath = logPathFor(b.logDir, b.outputs)
	}
	if b.log == nil && b.logErr == nil && b.logPath != "" {
		b.openLog()
	}
	if b.log != nil {
		if _, err := b.log.Write(p); err != nil {
			b.logErr, b.log = err, nil
		}
	}
	for len(p) > 0 {
		if len(b.tail) < outputTailLimit {
			k := min(outputTailLimit-len(b.tail), len(p))
			b.tail = append(b.tail, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(b.tail[b.tailPos:], p)
		b.tailPos = (b.tailPos + k) % outputTailLimit
		p = p[k:]
	}
	return n, nil
}

// openLog creates the log file and writes what the head holds.
func (b *boundedOutput) openLog() {
	if err := os.MkdirAll(filepath.Dir(b.logPath), 0o755); err != nil {
		b.logErr = err
		return
	}
	f, err := os.Create(b.logPath)
	if err == nil {
		_, err = f.Write(b.head)
	}
	if err != nil {
		b.logErr = err
		return
	}
	b.log = f
}

// Bytes closes the log and returns the kept output: all of it when it fit,
// else the head, a line saying how much was left out and where the whole
// output is, and the tail.
func (b *boundedOutput) Bytes() []byte {
	if b.log != nil {
		if err := b.log.Close(); err != nil && b.logErr == nil {
			b.logErr = err
		}
		b.log = nil
	}
	if b.total <= int64(len(b.head)+len(b.tail)) {
		return append(b.head, b.tail...)
	}
	tail := append(append([]byte{}, b.tail[b.tailPos:]...), b.tail[:b.tailPos]...)
	omitted := b.total - int64(len(b.head)) - int64(len(tail))
	var where string
	switch {
	case b.logErr != nil:
		where = fmt.Sprintf("the whole output could not be kept: %v", b.logErr)
	case b.logPath != "":
		where = "the whole output is in " + b.logPath
	default:
		where = "the whole output was not kept"
	}
	note := fmt.Sprintf("\n[bld: %d bytes of output left out here; %s]\n", omitted, where)
	out := append(append([]byte{}, b.head...), note...)
	return append(out, tail...)
}

// logPathFor is where the whole output of the action with outputs goes
// when it is too long to keep: a file in dir named after its first output.
func logPathFor(dir string, outputs []string) string {
	if dir == "" || len(outputs) == 0 {
		return ""
	}
	return filepath.Join(dir, strings.ReplaceAll(outputs[0], "/", "_")+".log")
}
