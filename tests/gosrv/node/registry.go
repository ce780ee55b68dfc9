// Package node is gosrv's per-service "node" (the tsnsrv shape: one node per
// service, each with its own goroutines, buffers and listener) and the shared
// registry all nodes meet at.
//
// It lives in its own package under a module path with a dot in its first
// element (scaleprof.test/gosrv/node) so that profiles of gosrv carry own
// code in two shapes: "main.*" and "scaleprof.test/gosrv/node.*".
//
// registry.go: the Registry that starts and stops the nodes, holds the shared
// mutex every tick takes, and sums the counters /metrics exports as truth.
package node

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the knobs of every node; the zero value is not usable, see Defaults.
type Options struct {
	Workers     int           // idle worker goroutines per node, blocked on a channel
	HeapBytes   int           // bytes each node retains, allocated in allocBuffers
	HeapChunk   int           // size of each of those allocations
	TableSize   int           // entries in each node's table
	ScanRounds  int           // mixing rounds per entry in scanPeers (the N² part)
	LocalRounds int           // mixing rounds per own entry in tickLocal (the N part, under the lock)
	Tick        time.Duration // each node's tick period
	Linear      bool          // scanPeers scans only the node's own table
}

// Defaults are tuned so that, on one core of a 2020s x86 machine, gosrv takes
// about 2% of a core at N=10 and about 30% at N=50 (README.md).
func Defaults() Options {
	return Options{Workers: 8, HeapBytes: 1 << 20, HeapChunk: 512 << 10, TableSize: 64,
		ScanRounds: 64, LocalRounds: 600, Tick: 100 * time.Millisecond}
}

// GoroutinesPerNode is how many goroutines Start starts for each node: run,
// poll, serve and the workers. HTTP connections add their own while open.
func (o Options) GoroutinesPerNode() int { return 3 + o.Workers }

// Check says what is wrong with o, or nil.
func (o Options) Check() error {
	switch {
	case o.Workers < 0:
		return errors.New("workers must be >= 0")
	case o.HeapBytes < 0 || o.HeapChunk <= 0:
		return errors.New("heap bytes must be >= 0 and the chunk > 0")
	case o.TableSize <= 0:
		return errors.New("table size must be > 0")
	case o.ScanRounds < 0 || o.LocalRounds < 0:
		return errors.New("work rounds must be >= 0")
	case o.Tick < time.Millisecond:
		return errors.New("tick must be >= 1ms")
	}
	return nil
}

// Service is one node to start: its name and the address to listen on.
type Service struct {
	Name string
	Addr string // host:port; port 0 lets the kernel choose
}

// Registry owns the nodes. Start once, then Stop once.
type Registry struct {
	opt   Options
	nodes []*Node
	quit  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex // the shared lock each node's tick takes (syncRegistry)
	status  []uint64   // guarded by mu: each node's latest digest
	updates int64      // guarded by mu: status writes so far

	lockWaitNs atomic.Int64 // time spent in mu.Lock, all nodes
	lockHoldNs atomic.Int64 // time mu was held, all nodes
	lockCalls  atomic.Int64
}

// New returns a registry with opt; opt must pass Check.
func New(opt Options) *Registry {
	return &Registry{opt: opt, quit: make(chan struct{})}
}

// Start listens on every service's address, allocates each node's buffers and
// starts its goroutines. On error nothing is left listening or running.
func (r *Registry) Start(svcs []Service) error {
	for i, s := range svcs {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			for _, n := range r.nodes {
				n.ln.Close()
			}
			r.nodes = nil
			return fmt.Errorf("service %s: listen %s: %w", s.Name, s.Addr, err)
		}
		r.nodes = append(r.nodes, newNode(r, i, s.Name, ln))
	}
	r.status = make([]uint64, len(r.nodes))
	for _, n := range r.nodes {
		if r.opt.Linear {
			n.peers = []*Node{n}
		} else {
			n.peers = r.nodes
		}
	}
	// Every node ticks on the same grid, as timers armed together do: their
	// ticks meet at the registry lock, which is the contention gosrv plants.
	start := time.Now().Add(r.opt.Tick)
	for _, n := range r.nodes {
		n.start(start)
	}
	return nil
}

// Stop closes every listener and waits up to timeout for the node goroutines
// to end; false when some did not.
func (r *Registry) Stop(timeout time.Duration) bool {
	close(r.quit)
	for _, n := range r.nodes {
		n.stop()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// NodeInfo is what /metrics reports per service.
type NodeInfo struct {
	Name     string
	Addr     string // the address actually listened on
	Requests int64
}

// Nodes lists the running nodes in config order.
func (r *Registry) Nodes() []NodeInfo {
	out := make([]NodeInfo, len(r.nodes))
	for i, n := range r.nodes {
		out[i] = NodeInfo{n.name, n.ln.Addr().String(), n.requests.Load()}
	}
	return out
}

// Stats are the counters summed over all nodes since Start.
type Stats struct {
	Nodes            int
	GoroutinesPer    int   // started per node (Options.GoroutinesPerNode)
	GoroutinesLive   int64 // node goroutines running now (drops to 0 after Stop)
	HeapRetained     int64 // bytes allocBuffers holds, all nodes
	Ticks            int64
	ScanCalls        int64
	ScanEntries      int64 // table entries scanPeers visited
	ScanNs           int64 // wall time inside scanPeers
	LocalCalls       int64
	LocalNs          int64 // wall time inside tickLocal
	LockCalls        int64
	LockWaitNs       int64
	LockHoldNs       int64
	ScanTablesPerRun int // tables each scanPeers call walks: N, or 1 with Linear
}

// Stats sums the nodes' counters; safe while they run.
func (r *Registry) Stats() Stats {
	s := Stats{Nodes: len(r.nodes), GoroutinesPer: r.opt.GoroutinesPerNode(),
		LockCalls: r.lockCalls.Load(), LockWaitNs: r.lockWaitNs.Load(),
		LockHoldNs: r.lockHoldNs.Load(), ScanTablesPerRun: len(r.nodes)}
	if r.opt.Linear && len(r.nodes) > 0 {
		s.ScanTablesPerRun = 1
	}
	for _, n := range r.nodes {
		s.GoroutinesLive += n.live.Load()
		s.HeapRetained += n.heapBytes
		s.Ticks += n.ticks.Load()
		s.ScanCalls += n.scanCalls.Load()
		s.ScanEntries += n.scanEntries.Load()
		s.ScanNs += n.scanNs.Load()
		s.LocalCalls += n.localCalls.Load()
		s.LocalNs += n.localNs.Load()
	}
	return s
}
