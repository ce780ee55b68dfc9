// metrics.go: /metrics in the Prometheus text format, carrying the truth a
// sweep's analysis is checked against: how many services, how many goroutines
// and retained heap bytes gosrv planted per service, the planted function's
// calls and time, and the registry lock's measured wait.
package main

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"scaleprof.test/gosrv/node"
)

type lockprofSettings struct {
	mutexFraction int // runtime.SetMutexProfileFraction; 0 = off
	blockRateNs   int // runtime.SetBlockProfileRate; 0 = off
}

type metrics struct {
	reg      *node.Registry
	opt      node.Options
	lockprof lockprofSettings
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.write(w)
}

func (m *metrics) write(w io.Writer) {
	st := m.reg.Stats()
	linear := 0
	if m.opt.Linear {
		linear = 1
	}
	lockprof := 0
	if m.lockprof.mutexFraction > 0 {
		lockprof = 1
	}
	sec := func(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'g', -1, 64) }
	metric(w, "gosrv_services", "gauge", "Services (nodes) running.", st.Nodes)
	metric(w, "gosrv_goroutines_per_service", "gauge",
		"Goroutines gosrv starts per service (run, poll, serve, workers).", st.GoroutinesPer)
	metric(w, "gosrv_service_goroutines", "gauge",
		"Goroutines of all services running now (services * per service while up).", st.GoroutinesLive)
	metric(w, "gosrv_goroutines", "gauge", "All goroutines (runtime.NumGoroutine).", runtime.NumGoroutine())
	metric(w, "gosrv_heap_per_service_bytes", "gauge",
		"Bytes each service retains, allocated in node.(*Node).allocBuffers.", m.opt.HeapBytes)
	metric(w, "gosrv_heap_retained_bytes", "gauge",
		"Bytes retained by node.(*Node).allocBuffers, all services.", st.HeapRetained)
	metric(w, "gosrv_heap_chunk_bytes", "gauge", "Size of each allocBuffers allocation.", m.opt.HeapChunk)
	metric(w, "gosrv_linear", "gauge", "1 when scanPeers walks only its own table (-linear).", linear)
	metric(w, "gosrv_scan_tables_per_call", "gauge",
		"Tables each node.(*Node).scanPeers call walks: N, or 1 with -linear.", st.ScanTablesPerRun)
	metric(w, "gosrv_ticks_total", "counter", "Ticks run, all services.", st.Ticks)
	metric(w, "gosrv_scan_calls_total", "counter", "Calls of node.(*Node).scanPeers.", st.ScanCalls)
	metric(w, "gosrv_scan_entries_total", "counter", "Table entries scanPeers visited.", st.ScanEntries)
	metric(w, "gosrv_scan_seconds_total", "counter",
		"Wall time inside scanPeers (its CPU when the machine is otherwise idle).", sec(st.ScanNs))
	metric(w, "gosrv_local_calls_total", "counter", "Calls of node.(*Node).tickLocal.", st.LocalCalls)
	metric(w, "gosrv_local_seconds_total", "counter", "Wall time inside tickLocal.", sec(st.LocalNs))
	metric(w, "gosrv_registry_lock_calls_total", "counter",
		"Acquisitions of the registry mutex (node.(*Node).syncRegistry).", st.LockCalls)
	metric(w, "gosrv_registry_lock_wait_seconds_total", "counter",
		"Time spent waiting for the registry mutex.", sec(st.LockWaitNs))
	metric(w, "gosrv_registry_lock_hold_seconds_total", "counter",
		"Time the registry mutex was held.", sec(st.LockHoldNs))
	metric(w, "gosrv_lockprof", "gauge", "1 when mutex and block profiling are on.", lockprof)
	metric(w, "gosrv_mutex_profile_fraction", "gauge",
		"runtime.SetMutexProfileFraction (0 = off).", m.lockprof.mutexFraction)
	metric(w, "gosrv_block_profile_rate_ns", "gauge",
		"runtime.SetBlockProfileRate (0 = off).", m.lockprof.blockRateNs)

	fmt.Fprintln(w, "# HELP gosrv_service_info Each service and the address it listens on.")
	fmt.Fprintln(w, "# TYPE gosrv_service_info gauge")
	nodes := m.reg.Nodes()
	for _, n := range nodes {
		fmt.Fprintf(w, "gosrv_service_info{service=\"%s\",addr=\"%s\"} 1\n", label(n.Name), label(n.Addr))
	}
	fmt.Fprintln(w, "# HELP gosrv_service_requests_total Requests each service answered.")
	fmt.Fprintln(w, "# TYPE gosrv_service_requests_total counter")
	for _, n := range nodes {
		fmt.Fprintf(w, "gosrv_service_requests_total{service=\"%s\"} %d\n", label(n.Name), n.Requests)
	}
}

func metric(w io.Writer, name, typ, help string, value interface{}) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, value)
}

// label escapes a label value as the text format asks: \ " and newline.
func label(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
