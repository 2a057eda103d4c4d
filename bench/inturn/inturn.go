// Package inturn runs benchmark variants in turn, in short blocks, so that
// each sees the same machine: on a shared one, separate runs of each variant
// differ by tens of percent.
package inturn

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Blocks makes b.N changes from clients at once, in blocks of 64 per client
// that go to each of kinds in turn (change(kind) makes one; false, with the
// failure reported, ends the benchmark), and returns each kind's time per change:
// its throughput, inverted.
func Blocks(b *testing.B, clients, kinds int, change func(kind int) bool) []float64 {
	block := 64 * clients
	took := make([]time.Duration, kinds)
	made := make([]int, kinds)
	for round, total := 0, 0; total < b.N || round < kinds; round++ {
		kind := round % kinds
		var left atomic.Int64
		left.Store(int64(block))
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for left.Add(-1) >= 0 && change(kind) {
				}
			})
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		took[kind] += time.Since(start)
		made[kind] += block
		total += block
	}
	per := make([]float64, kinds)
	for k := range per {
		per[k] = float64(took[k]) / float64(made[k])
	}
	return per
}

// Report reports each kind's time per change as <name>-ns/op, and what each
// kind after the first costs more than the first as <name>-%.
func Report(b *testing.B, per []float64, names ...string) {
	for k, name := range names {
		b.ReportMetric(per[k], name+"-ns/op")
		if k > 0 {
			b.ReportMetric(100*(per[k]/per[0]-1), name+"-%")
		}
	}
}
