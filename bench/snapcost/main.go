// Command snapcost times loading and saving an analysis snapshot (CPU
// time of the process, user+system, and the heap allocated).
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"bld/starlark/snapshot"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	path, out := os.Args[1], os.Args[2]
	var ms runtime.MemStats
	c0, w0 := cpu(), time.Now()
	s, err := snapshot.LoadAny(path)
	if err != nil || s == nil {
		fmt.Fprintln(os.Stderr, "load failed", err)
		os.Exit(1)
	}
	c1, w1 := cpu(), time.Now()
	runtime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc
	if err := snapshot.Save(out, s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c2, w2 := cpu(), time.Now()
	fi, _ := os.Stat(out)
	fmt.Printf("load cpu %.3f s wall %.3f s alloc %d MB; save cpu %.3f s wall %.3f s; size %d bytes\n",
		(c1 - c0).Seconds(), w1.Sub(w0).Seconds(), alloc>>20, (c2 - c1).Seconds(), w2.Sub(w1).Seconds(), fi.Size())
}
