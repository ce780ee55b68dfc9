// gosrv: scaleprof's own Go test target, a multi-service server with known,
// planted costs (README.md). One node per service (package node); this file
// is the command line, the admin server (net/http/pprof, /healthz, /metrics)
// and the signal handling.
//
//	gosrv -config FILE [-workers 8] [-heap-per-service 1048576] [-linear] [-no-lockprof] ...
//
// Exit status: 0 after SIGTERM/SIGINT, 2 for a bad command line or config
// (the message is "FILE:LINE: ..."), 1 when a listener cannot be opened.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"scaleprof.test/gosrv/node"
)

type settings struct {
	config     string
	opt        node.Options
	noLockprof bool
}

var errPrinted = errors.New("usage printed")

func parseFlags(args []string) (*settings, error) {
	s := &settings{opt: node.Defaults()}
	fs := flag.NewFlagSet("gosrv", flag.ContinueOnError)
	fs.StringVar(&s.config, "config", "", "tsnsrv-style YAML config (required)")
	fs.IntVar(&s.opt.Workers, "workers", s.opt.Workers, "idle worker goroutines per service")
	fs.IntVar(&s.opt.HeapBytes, "heap-per-service", s.opt.HeapBytes, "bytes each service retains (allocBuffers)")
	fs.IntVar(&s.opt.HeapChunk, "heap-chunk", s.opt.HeapChunk, "size of each retained allocation")
	fs.IntVar(&s.opt.TableSize, "table", s.opt.TableSize, "entries in each service's table")
	fs.IntVar(&s.opt.ScanRounds, "scan-cost", s.opt.ScanRounds, "work per entry in scanPeers (N² part)")
	fs.IntVar(&s.opt.LocalRounds, "local-cost", s.opt.LocalRounds, "work per own entry in tickLocal (N part, under the registry lock)")
	fs.DurationVar(&s.opt.Tick, "tick", s.opt.Tick, "each service's tick period")
	fs.BoolVar(&s.opt.Linear, "linear", false, "scanPeers walks only its own table: CPU linear in N")
	fs.BoolVar(&s.noLockprof, "no-lockprof", false, "leave mutex and block profiling off")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return nil, errPrinted // the flag package has said what and printed the usage
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if s.config == "" {
		return nil, errors.New("-config FILE is required")
	}
	if err := s.opt.Check(); err != nil {
		return nil, err
	}
	return s, nil
}

func main() {
	log.SetFlags(log.Ldate | log.Ltime | log.Lmicroseconds)
	log.SetPrefix("gosrv: ")
	s, err := parseFlags(os.Args[1:])
	if err != nil {
		if err != errPrinted {
			fmt.Fprintf(os.Stderr, "gosrv: %v\n", err)
		}
		os.Exit(2)
	}
	cfg, err := loadConfig(s.config)
	if err != nil {
		if _, ok := err.(*configError); ok {
			fmt.Fprintln(os.Stderr, err) // FILE:LINE: message, as compilers do
		} else {
			fmt.Fprintf(os.Stderr, "gosrv: %v\n", err)
		}
		os.Exit(2)
	}
	os.Exit(run(s, cfg))
}

func run(s *settings, cfg *config) int {
	lockprof := lockprofSettings{}
	if !s.noLockprof {
		// Every contention and blocking event: the counts are small (tens of
		// events per service per second), and unsampled values are the truth.
		lockprof = lockprofSettings{mutexFraction: 1, blockRateNs: 1}
	}
	runtime.SetMutexProfileFraction(lockprof.mutexFraction)
	runtime.SetBlockProfileRate(lockprof.blockRateNs)

	adminLn, err := net.Listen("tcp", adminListenAddr(cfg.PrometheusAddr))
	if err != nil {
		log.Printf("prometheusAddr %s: %v", cfg.PrometheusAddr, err)
		return 1
	}
	svcs := make([]node.Service, len(cfg.Services))
	for i, c := range cfg.Services {
		svcs[i] = node.Service{Name: c.Name, Addr: serviceListenAddr(c.ListenAddr)}
	}
	reg := node.New(s.opt)
	if err := reg.Start(svcs); err != nil {
		log.Print(err)
		adminLn.Close()
		return 1
	}
	// A heap profile shows the heap as of the last completed GC, and the ticks
	// allocate nothing to trigger one: collect now so the retained buffers are
	// in every heap profile from the start.
	runtime.GC()
	for _, n := range reg.Nodes() {
		log.Printf("service %s listening on %s", n.Name, n.Addr)
	}
	mode := "quadratic"
	if s.opt.Linear {
		mode = "linear"
	}
	log.Printf("%d services, %d goroutines each, %d bytes retained each, %s scan, lock profiling %v; admin on %s",
		len(svcs), s.opt.GoroutinesPerNode(), s.opt.HeapBytes, mode, !s.noLockprof, adminLn.Addr())

	admin := &http.Server{Handler: adminMux(&metrics{reg: reg, opt: s.opt, lockprof: lockprof}),
		ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- admin.Serve(adminLn) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case got := <-sig:
		log.Printf("%v: stopping", got)
	case err := <-served:
		log.Printf("admin server: %v", err)
		reg.Stop(2 * time.Second)
		return 1
	}
	admin.Close()
	if !reg.Stop(2 * time.Second) {
		log.Print("some service goroutines did not stop within 2 s; exiting anyway")
	}
	return 0
}

func adminMux(m *metrics) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, allocs, goroutine, mutex, block, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/metrics", m)
	return mux
}
