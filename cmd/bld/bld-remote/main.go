// Command bld-remote is bld's client of remote caches and executors (the
// Remote Execution API over gRPC). bld starts it when a build uses one
// (--remote_cache, --remote_executor) and talks to it over its standard
// input and output (package bld/exec/remote/pipe): gRPC and protobuf's
// runtime live here so that bld itself starts fast. It is not meant to be
// run by hand; install it beside bld with `go install ./cmd/bld/...`.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/mattn/go-isatty"

	"bld/exec/remote/grpcclient"
	"bld/exec/remote/pipe"
)

func main() {
	if isatty.IsTerminal(os.Stdin.Fd()) {
		fmt.Fprintln(os.Stderr, "bld-remote is run by bld when a build uses a remote cache or executor (--remote_cache, --remote_executor); it is not meant to be run by hand.")
		os.Exit(2)
	}
	// bld cancels what it asked for on Ctrl-C, and this process ends when
	// bld closes its input; the signal itself is bld's to handle.
	signal.Ignore(os.Interrupt)
	if err := pipe.Serve(context.Background(), bufio.NewReaderSize(os.Stdin, 64<<10), os.Stdout, grpcclient.DialService, grpcclient.IsUnavailable); err != nil {
		fmt.Fprintln(os.Stderr, "bld-remote:", err)
		os.Exit(1)
	}
}
