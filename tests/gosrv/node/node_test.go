// node_test.go: the truths /metrics reports hold for a running registry: the
// goroutines each node starts, the bytes allocBuffers retains, the tables one
// scanPeers call walks (N, or 1 with Linear), and Stop ending every goroutine.
package node

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func startThree(t *testing.T, linear bool) *Registry {
	t.Helper()
	opt := Defaults()
	opt.Tick = 5 * time.Millisecond
	opt.HeapBytes = 300 << 10 // not a multiple of the chunk: the last one is short
	opt.HeapChunk = 128 << 10
	opt.Linear = linear
	if err := opt.Check(); err != nil {
		t.Fatal(err)
	}
	r := New(opt)
	svcs := []Service{{"a", "127.0.0.1:0"}, {"b", "127.0.0.1:0"}, {"c", "127.0.0.1:0"}}
	if err := r.Start(svcs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().ScanCalls < 6 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

func TestRegistryReportsWhatItPlanted(t *testing.T) {
	for _, linear := range []bool{false, true} {
		r := startThree(t, linear)
		st := r.Stats()
		wantTables := 3
		if linear {
			wantTables = 1
		}
		if st.Nodes != 3 || st.GoroutinesPer != 11 || st.GoroutinesLive != 33 {
			t.Errorf("linear=%v: nodes %d, goroutines %d per node, %d live; want 3, 11, 33",
				linear, st.Nodes, st.GoroutinesPer, st.GoroutinesLive)
		}
		if st.HeapRetained != 3*300<<10 {
			t.Errorf("linear=%v: retained %d, want %d", linear, st.HeapRetained, 3*300<<10)
		}
		for _, n := range r.nodes {
			if len(n.buffers) != 3 || len(n.buffers[2]) != 44<<10 {
				t.Errorf("node %s: %d buffers, want 128+128+44 KiB", n.name, len(n.buffers))
			}
		}
		if !r.Stop(2 * time.Second) {
			t.Fatalf("linear=%v: goroutines still running after Stop", linear)
		}
		// the counters of a stopped registry are settled: compare them exactly
		st = r.Stats()
		if st.GoroutinesLive != 0 {
			t.Errorf("linear=%v: %d node goroutines after Stop", linear, st.GoroutinesLive)
		}
		if st.ScanTablesPerRun != wantTables || st.ScanCalls == 0 ||
			st.ScanEntries != st.ScanCalls*int64(wantTables*64) {
			t.Errorf("linear=%v: %d calls, %d entries, %d tables per call; want %d tables of 64",
				linear, st.ScanCalls, st.ScanEntries, st.ScanTablesPerRun, wantTables)
		}
		if st.LockCalls != st.Ticks || st.LocalCalls != st.Ticks || st.ScanCalls != st.Ticks {
			t.Errorf("linear=%v: %d ticks but %d lock, %d local, %d scan calls", linear,
				st.Ticks, st.LockCalls, st.LocalCalls, st.ScanCalls)
		}
	}
}

func TestEachServiceAnswersWithItsName(t *testing.T) {
	r := startThree(t, false)
	defer r.Stop(2 * time.Second)
	for _, n := range r.Nodes() {
		resp, err := http.Get("http://" + n.Addr + "/any/path")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "service "+n.Name+"\n") {
			t.Errorf("%s: %d %q", n.Name, resp.StatusCode, body)
		}
	}
	for _, n := range r.Nodes() {
		if n.Requests != 1 {
			t.Errorf("%s: %d requests counted, want 1", n.Name, n.Requests)
		}
	}
}

func TestStartFailsCleanlyOnATakenAddress(t *testing.T) {
	r1 := startThree(t, false)
	defer r1.Stop(2 * time.Second)
	taken := r1.Nodes()[1].Addr
	r2 := New(Defaults())
	err := r2.Start([]Service{{"x", "127.0.0.1:0"}, {"y", taken}})
	if err == nil || !strings.Contains(err.Error(), "service y") {
		t.Fatalf("got %v", err)
	}
	if len(r2.nodes) != 0 {
		t.Errorf("%d nodes left after a failed Start", len(r2.nodes))
	}
}
