package grpcclient

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"bld/exec/digest"
	"bld/exec/remote"
	"bld/exec/remote/remotetest"
)

// cutProxy forwards TCP connections to target; the first connection is cut
// after cutAfter bytes from the client (from the server when down).
type cutProxy struct {
	lis   net.Listener
	conns atomic.Int32
}

func startCutProxy(t *testing.T, target string, cutAfter int64, down bool) *cutProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis}
	var wg sync.WaitGroup
	t.Cleanup(func() { lis.Close(); wg.Wait() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			n := p.conns.Add(1)
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				if n == 1 && !down {
					io.CopyN(s, c, cutAfter)
					c.Close()
					s.Close()
					return
				}
				io.Copy(s, c)
				s.Close()
			}()
			go func() {
				defer wg.Done()
				if n == 1 && down {
					io.CopyN(c, s, cutAfter)
					c.Close()
					s.Close()
					return
				}
				io.Copy(c, s)
				c.Close()
			}()
		}
	}()
	return p
}

// A big upload whose connection breaks half way resumes where the server
// says it stopped.
func TestWriteResumes(t *testing.T) {
	s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: 64 << 10})
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	path := filepath.Join(t.TempDir(), "big")
	os.WriteFile(path, big, 0o644)
	d := digest.OfBytes(big)

	p := startCutProxy(t, s.Addr(), 3<<20, false)
	c := dial(t, s, remote.Config{Target: p.lis.Addr().String()})
	sent, err := c.Upload(context.Background(), []remote.Blob{{Digest: d, Path: path}})
	if err != nil {
		t.Fatal(err)
	}
	if sent != d.Size {
		t.Errorf("sent %d", sent)
	}
	if b, ok := s.Blob("", digestToProto(d)); !ok || !bytes.Equal(b, big) {
		t.Fatal("blob not stored")
	}
	st := c.Stats()
	if p.conns.Load() < 2 || st.Retries == 0 {
		t.Errorf("the connection was not cut: %d connections, %+v", p.conns.Load(), st)
	}
	if st.WriteResumes != 1 {
		t.Errorf("write not resumed: %+v", st)
	}
	// The bytes received in all stay well under two full uploads.
	t.Logf("client %+v, server %+v", st, s.Stats())
}

// A download whose connection breaks half way resumes at the offset
// reached, and the file is whole and verified.
func TestReadResumes(t *testing.T) {
	s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: 64 << 10})
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte(i % 253)
	}
	d := digest.OfBytes(big)
	s.PutBlob("", big)
	p := startCutProxy(t, s.Addr(), 3<<20, true)
	c := dial(t, s, remote.Config{Target: p.lis.Addr().String()})
	out := filepath.Join(t.TempDir(), "out")
	if err := c.DownloadFile(context.Background(), d, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, big) {
		t.Fatal("downloaded file differs")
	}
	st, sst := c.Stats(), s.Stats()
	if p.conns.Load() < 2 || st.Retries == 0 || sst.RPCs["Read"] != 2 {
		t.Errorf("the connection was not cut: %d connections, %+v, %+v", p.conns.Load(), st, sst.RPCs)
	}
	if sst.ByteStreamReadBytes >= 2*d.Size-1<<20 {
		t.Errorf("the read started over: %d bytes sent by the server", sst.ByteStreamReadBytes)
	}
}
