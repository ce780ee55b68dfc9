// work.go: what a node does every tick, the costs gosrv plants:
//
//	(*Node).syncRegistry  takes the shared registry lock and, holding it, runs
//	                      tickLocal and publishes the result. All N nodes tick
//	                      on the same grid, so they queue at the lock: the k-th
//	                      waits k holds, and the delay per tick grows as N²
//	                      while the CPU under the lock stays linear.
//	(*Node).tickLocal     fixed work on the node's own table: CPU ~ b*N.
//	(*Node).scanPeers     walks every node's table: N nodes * N tables, so
//	                      CPU ~ c*N² (the planted super-linear function).
//	                      With Options.Linear it walks only its own table.
//
// Each is marked noinline so that profiles name it as its own frame, and the
// mixing loops are written out in each rather than shared, so the CPU lands in
// the function that causes it.
package node

import "time"

// run ticks on the grid first, first+Tick, ...; a tick that finds itself late
// skips the grid points it missed instead of bunching up.
func (n *Node) run() {
	period := n.r.opt.Tick
	next := n.first
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		select {
		case <-n.r.quit:
			return
		case <-t.C:
		}
		n.tick()
		now := time.Now()
		for !next.After(now) {
			next = next.Add(period)
		}
		t.Reset(next.Sub(now))
	}
}

func (n *Node) tick() {
	n.ticks.Add(1)
	n.syncRegistry()
	n.scanPeers()
}

//go:noinline
func (n *Node) syncRegistry() {
	r := n.r
	t0 := time.Now()
	r.mu.Lock()
	t1 := time.Now()
	n.tickLocal()
	r.status[n.idx] = n.digest
	r.updates++
	t2 := time.Now()
	r.mu.Unlock()
	r.lockCalls.Add(1)
	r.lockWaitNs.Add(int64(t1.Sub(t0)))
	r.lockHoldNs.Add(int64(t2.Sub(t1)))
}

//go:noinline
func (n *Node) tickLocal() {
	t0 := time.Now()
	h := n.digest
	for i := range n.table {
		x := n.table[i].key ^ h
		for k := 0; k < n.r.opt.LocalRounds; k++ {
			x ^= x >> 33
			x *= 0xc4ceb9fe1a85ec53
			x ^= x >> 29
		}
		h += x
	}
	n.digest = h
	n.localCalls.Add(1)
	n.localNs.Add(int64(time.Since(t0)))
}

//go:noinline
func (n *Node) scanPeers() {
	t0 := time.Now()
	h := n.digest
	entries := 0
	for _, p := range n.peers {
		for i := range p.table {
			e := &p.table[i]
			x := e.key ^ h
			for k := 0; k < n.r.opt.ScanRounds; k++ {
				x ^= x >> 33
				x *= 0xff51afd7ed558ccd
				x ^= x >> 29
			}
			h += x ^ e.val
		}
		entries += len(p.table)
	}
	n.digest = h
	n.scanCalls.Add(1)
	n.scanEntries.Add(int64(entries))
	n.scanNs.Add(int64(time.Since(t0)))
}

// mix is for building tables only, never on the tick path.
func mix(x uint64, rounds int) uint64 {
	for k := 0; k < rounds; k++ {
		x ^= x >> 33
		x *= 0xff51afd7ed558ccd
		x ^= x >> 29
	}
	return x
}
