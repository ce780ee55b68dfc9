// Package spin burns CPU outside package main, under an import path whose
// first element has a dot: the Go rule counts it as the program's own code.
package spin

// Burn runs n rounds of a dependent integer chain (time ∝ n).
//
//go:noinline
func Burn(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}
