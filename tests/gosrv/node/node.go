// node.go: one service's node: its listener and HTTP server, its retained
// buffers, its table, and the fixed set of goroutines it runs.
//
// Per node, Start runs exactly Options.GoroutinesPerNode() goroutines, each in
// a function of its own so a goroutine profile names them:
//
//	(*Node).run     the tick loop (work.go)
//	(*Node).poll    a once-a-second poller
//	(*Node).serve   the HTTP Serve loop
//	(*Node).worker  Options.Workers idle workers blocked on a channel
package node

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

type entry struct {
	key, val uint64
}

// Node is one service. Fields set before start are read-only afterwards;
// counters are atomics because /metrics reads them while the node runs.
type Node struct {
	r       *Registry
	idx     int
	name    string
	ln      net.Listener
	srv     *http.Server
	table   []entry // read-only after newNode: other nodes scan it
	peers   []*Node // tables scanPeers walks: all nodes, or itself with Linear
	buffers [][]byte
	work    chan func() // the idle workers wait here; closed by stop
	digest  uint64      // owned by the run goroutine
	first   time.Time   // the first tick, the same for every node

	heapBytes   int64
	live        atomic.Int64
	requests    atomic.Int64
	ticks       atomic.Int64
	scanCalls   atomic.Int64
	scanEntries atomic.Int64
	scanNs      atomic.Int64
	localCalls  atomic.Int64
	localNs     atomic.Int64
	polled      atomic.Int64
}

func newNode(r *Registry, idx int, name string, ln net.Listener) *Node {
	n := &Node{r: r, idx: idx, name: name, ln: ln, work: make(chan func())}
	n.table = make([]entry, r.opt.TableSize)
	seed := uint64(idx+1) * 0x9e3779b97f4a7c15
	for i := range n.table {
		seed = mix(seed, 2)
		n.table[i] = entry{key: seed, val: uint64(i)}
	}
	n.allocBuffers()
	n.srv = &http.Server{Handler: http.HandlerFunc(n.handle), ReadHeaderTimeout: 10 * time.Second}
	return n
}

// allocBuffers is the one place a node's retained heap comes from: HeapBytes
// in allocations of HeapChunk, large enough that Go's heap sampling (one
// sample per 512 KiB on average) estimates them well. The pages are written so
// RSS grows with them too.
//
//go:noinline
func (n *Node) allocBuffers() {
	left := n.r.opt.HeapBytes
	for left > 0 {
		size := n.r.opt.HeapChunk
		if size > left {
			size = left
		}
		b := make([]byte, size)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(n.idx + i)
		}
		n.buffers = append(n.buffers, b)
		n.heapBytes += int64(size)
		left -= size
	}
}

func (n *Node) start(first time.Time) {
	n.first = first
	n.spawn(n.run)
	n.spawn(n.poll)
	n.spawn(n.serve)
	for i := 0; i < n.r.opt.Workers; i++ {
		n.spawn(n.worker)
	}
}

// spawn runs f as one of the node's counted goroutines.
func (n *Node) spawn(f func()) {
	n.r.wg.Add(1)
	n.live.Add(1)
	go func() {
		defer n.r.wg.Done()
		defer n.live.Add(-1)
		f()
	}()
}

func (n *Node) stop() {
	n.srv.Close() // closes the listener too, which ends serve
	close(n.work)
}

func (n *Node) serve() {
	if err := n.srv.Serve(n.ln); err != nil && err != http.ErrServerClosed {
		log.Printf("service %s: %v", n.name, err)
	}
}

// handle answers every request with 200 and the service's name.
func (n *Node) handle(w http.ResponseWriter, req *http.Request) {
	n.requests.Add(1)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "gosrv service %s\n", n.name)
}

// worker idles like tsnsrv's per-node helpers do: parked until work comes,
// which in gosrv is never, so each stays in the goroutine profile.
func (n *Node) worker() {
	for f := range n.work {
		f()
	}
}

// poll wakes once a second and notes how many requests the node has seen.
func (n *Node) poll() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.r.quit:
			return
		case <-t.C:
			n.polled.Store(n.requests.Load())
		}
	}
}
