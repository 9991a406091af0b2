// Command remoteserver runs bld's REAPI v2 test server
// (bld/exec/remote/remotetest) outside tests, for benchmarks and manual
// checks of the remote cache and remote execution:
//
//	go run ./bench/remoteserver -listen 127.0.0.1:8980 -exec
//	bld build --remote_cache=grpc://127.0.0.1:8980 //...
//
// It prints "listening on ADDR (target grpc://ADDR)" once it serves, then serves until
// interrupted, and prints its counters when it stops.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"bld/exec/remote/remotetest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8980", "address to listen on (port 0 picks one)")
	maxBatch := flag.Int64("max_batch", 0, "max_batch_total_size_bytes to advertise; 0: not advertised (hidden 4 MiB message limit)")
	execOn := flag.Bool("exec", false, "enable remote execution (commands run on this machine, in temporary directories)")
	platform := flag.String("platform", "", "worker platform as name=value,name=value; actions with another platform are refused (default: accept any)")
	path := flag.String("path", "/usr/bin:/bin", "PATH for commands whose environment has none")
	delay := flag.Duration("delay", 0, "delay added to every RPC")
	tlsDir := flag.String("tls_dir", "", "serve TLS: write a test CA, server and client certificates (ca.pem, server.pem/key, client.pem/key) into this directory and require client certificates (mTLS)")
	flag.Parse()

	opts := remotetest.Options{
		Listen:                 *listen,
		MaxBatchTotalSizeBytes: *maxBatch,
		Exec:                   *execOn,
		PATH:                   *path,
		Delay:                  *delay,
		ExecuteUpdateInterval:  30 * time.Second,
	}
	if *platform != "" {
		p := &repb.Platform{}
		for _, kv := range strings.Split(*platform, ",") {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				log.Fatalf("-platform: %q is not name=value", kv)
			}
			p.Properties = append(p.Properties, &repb.Platform_Property{Name: name, Value: value})
		}
		sort.Slice(p.Properties, func(i, j int) bool {
			a, b := p.Properties[i], p.Properties[j]
			return a.Name < b.Name || a.Name == b.Name && a.Value < b.Value
		})
		opts.Platforms = []*repb.Platform{p}
	}
	if *tlsDir != "" {
		certs, err := remotetest.NewTestCerts(*tlsDir)
		if err != nil {
			log.Fatal(err)
		}
		opts.TLS = certs.ServerTLS(true)
	}
	s, err := remotetest.Start(opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s (target %s)\n", s.Addr(), s.Target())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.Stop()
	fmt.Printf("%+v\n", s.Stats())
}
