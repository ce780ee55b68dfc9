// pprofdemo: a Go program whose pprof profiles have known contents, read by
// analysis/tests/test_profile_pprof_go.c (and, run briefly, the source of the
// fuzz seeds of fuzz_profile_pprof).
//
//	pprofdemo -out DIR [-cpu DURATION]
//
// writes DIR/{cpu,heap,allocs,goroutine,mutex,block}.pb.gz the way a Go
// server's net/http/pprof serves them (runtime/pprof, gzipped protobuf), and
// DIR/facts.txt: what the program itself measured or did ("name value" per
// line), so the test compares the profiles with facts instead of constants.
//
// What it does, each in a function of its own:
//   - burns CPU for -cpu of its own CPU time (getrusage) under the CPU
//     profiler, about half in burnInline, whose hot loop is the inlined
//     function mix, and half in spin.Burn (package example.com/pprofdemo/spin);
//   - keeps keptObjects objects of objectSize bytes alive (allocKept) and
//     allocates transientObjects more it drops (allocTransient), with a sampling
//     rate small enough for a tight estimate;
//   - parks goroutines on a channel (parkOnChannel) and in a select
//     (parkInSelect), and serves net/http on loopback (its accept loop parks);
//   - contends on a mutex (holdMutex) and blocks on a channel receive
//     (blockOnChannel), measuring the time its goroutines waited.
//
// Standard library only; built offline by meson (GO111MODULE=off, GOPATH is
// analysis/tests/gopath).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"example.com/pprofdemo/spin"
)

const (
	memProfileRate   = 4096
	objectSize       = 4096
	keptObjects      = 4096
	transientObjects = 2048
	parkedOnChannel  = 5
	parkedInSelect   = 3
	mutexWorkers     = 4
	mutexRounds      = 10
	mutexHold        = 2 * time.Millisecond
	blockRounds      = 5
	blockWait        = 20 * time.Millisecond
)

var (
	sink          uint64
	kept          [keptObjects][]byte
	transientSink []byte
	facts         *os.File
)

func fact(name string, v int64) {
	fmt.Fprintf(facts, "%s %d\n", name, v)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mix is small enough that the compiler inlines it into burnInline: its
// samples carry two Lines in one Location (mix, then burnInline).
func mix(x uint64) uint64 {
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	return x
}

//go:noinline
func burnInline(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x = mix(x)
	}
	return x
}

func profileCPU(dir string, budget time.Duration) {
	f := create(dir, "cpu.pb.gz")
	start := cpuTime()
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	for cpuTime()-start < budget {
		sink += burnInline(1 << 20)
		sink += spin.Burn(1 << 20)
	}
	pprof.StopCPUProfile()
	fact("cpu_ns", int64(cpuTime()-start))
	closeFile(f)
}

//go:noinline
func allocKept() {
	for i := range kept {
		kept[i] = make([]byte, objectSize)
	}
}

//go:noinline
func allocTransient() {
	for i := 0; i < transientObjects; i++ {
		transientSink = make([]byte, objectSize)
	}
	transientSink = nil
}

//go:noinline
func parkOnChannel(never chan int, started *sync.WaitGroup) {
	started.Done()
	<-never
}

//go:noinline
func parkInSelect(a, b chan int, started *sync.WaitGroup) {
	started.Done()
	select {
	case <-a:
	case <-b:
	}
}

//go:noinline
func holdMutex(mu *sync.Mutex, waited *int64) {
	t := time.Now()
	mu.Lock()
	atomic.AddInt64(waited, int64(time.Since(t)))
	time.Sleep(mutexHold)
	mu.Unlock()
}

func contendMutex() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var waited int64
	for w := 0; w < mutexWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < mutexRounds; r++ {
				holdMutex(&mu, &waited)
			}
		}()
	}
	wg.Wait()
	fact("mutex_locks", mutexWorkers*mutexRounds)
	fact("mutex_waited_ns", waited)
}

//go:noinline
func blockOnChannel(ch chan int, done chan int64) {
	var waited time.Duration
	for r := 0; r < blockRounds; r++ {
		t := time.Now()
		<-ch
		waited += time.Since(t)
	}
	done <- int64(waited)
}

func blockChannel() {
	ch := make(chan int)
	done := make(chan int64, 1)
	go blockOnChannel(ch, done)
	for r := 0; r < blockRounds; r++ {
		time.Sleep(blockWait)
		ch <- r
	}
	fact("block_rounds", blockRounds)
	fact("block_waited_ns", <-done)
}

func create(dir, name string) *os.File {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		panic(err)
	}
	return f
}

func closeFile(f *os.File) {
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func write(dir, profile string) {
	f := create(dir, profile+".pb.gz")
	if err := pprof.Lookup(profile).WriteTo(f, 0); err != nil {
		panic(err)
	}
	closeFile(f)
}

func main() {
	runtime.MemProfileRate = memProfileRate
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	dir := flag.String("out", ".", "folder for the profiles and facts.txt")
	budget := flag.Duration("cpu", time.Second, "CPU time to burn under the CPU profiler")
	flag.Parse()
	facts = create(*dir, "facts.txt")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)
	var started sync.WaitGroup
	never := make(chan int)
	for i := 0; i < parkedOnChannel; i++ {
		started.Add(1)
		go parkOnChannel(never, &started)
	}
	for i := 0; i < parkedInSelect; i++ {
		started.Add(1)
		go parkInSelect(never, never, &started)
	}
	started.Wait()
	fact("parked_on_channel", parkedOnChannel)
	fact("parked_in_select", parkedInSelect)

	profileCPU(*dir, *budget)

	allocKept()
	allocTransient()
	runtime.GC()
	runtime.GC()
	fact("kept_objects", keptObjects)
	fact("kept_bytes", keptObjects*objectSize)
	fact("transient_bytes", transientObjects*objectSize)

	contendMutex()
	blockChannel()

	for _, p := range []string{"heap", "allocs", "goroutine", "mutex", "block"} {
		write(*dir, p)
	}
	closeFile(facts)
	runtime.KeepAlive(&kept)
}
