package experiments

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// measure runs f and returns its wall time and the peak live heap seen
// while it ran (sampled every 5 ms after a collection; the pure-Go
// backend's tensors live on the Go heap, so this covers the model too).
func measure(f func() error) (seconds, peakMiB float64, err error) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var mu sync.Mutex
	peak := read()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				v := read()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	start := time.Now()
	err = f()
	seconds = time.Since(start).Seconds()
	close(done)
	wg.Wait()
	peak = max(peak, read())
	return seconds, float64(peak) / (1 << 20), err
}
