package data

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkReadObservations reads 10^5 instances x 5 observations.
func BenchmarkReadObservations(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("instance,value,critical_ratio\n")
	for k := range 100_000 {
		for j := range 5 {
			fmt.Fprintf(&buf, "sku-%d,%d.25,0.8\n", k, 10+j*k%37)
		}
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ReadObservations(bytes.NewReader(in), "bench", 0); err != nil {
			b.Fatal(err)
		}
	}
}
