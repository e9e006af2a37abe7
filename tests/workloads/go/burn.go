// A Go program that writes its own CPU profile (runtime/pprof) while
// burnA and burnB share the CPU 3:1: a pprof file from another producer.
// usage: burn OUT.pprof
package main

import (
	"os"
	"runtime/pprof"
	"time"
)

var sink uint64

//go:noinline
func burnA(n int) {
	for i := 0; i < n; i++ {
		sink = sink*6364136223846793005 + uint64(i)
	}
}

//go:noinline
func burnB(n int) {
	for i := 0; i < n; i++ {
		sink = sink*6364136223846793005 + uint64(i)
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	pprof.StartCPUProfile(f)
	end := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(end) {
		burnA(3000000)
		burnB(1000000)
	}
	pprof.StopCPUProfile()
	f.Close()
}
