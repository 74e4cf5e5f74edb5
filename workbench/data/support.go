package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// ReadSupportFile reads a support CSV (`instance,value`, one row per known
// support point of an instance, e.g. a store's bins) and sets p.Support:
// each instance's points sorted. Every instance of p needs two or more
// distinct points, and every instance of the file must be in p; errors
// name the file, line and instance.
func ReadSupportFile(path string, p *Portfolio) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return ReadSupport(f, path, p)
}

// ReadSupport is ReadSupportFile from a reader; name labels errors.
func ReadSupport(r io.Reader, name string, p *Portfolio) error {
	index := make(map[string]int, p.Len())
	for k, id := range p.IDs {
		index[id] = k
	}
	sup := make([][]float64, p.Len())
	err := readLong(r, name, "value", false, func(line int, id string, v float64, _ string) error {
		k, ok := index[id]
		if !ok {
			return fmt.Errorf("not an instance of %s", p.Source)
		}
		sup[k] = append(sup[k], v)
		return nil
	})
	if err != nil {
		return err
	}
	for k, s := range sup {
		slices.Sort(s)
		if len(s) < 2 {
			return fmt.Errorf("%s: instance %q has %d support points, want at least 2", name, p.IDs[k], len(s))
		}
		for i := 1; i < len(s); i++ {
			if s[i] == s[i-1] {
				return fmt.Errorf("%s: instance %q lists support point %v twice", name, p.IDs[k], s[i])
			}
		}
	}
	p.Support = sup
	return nil
}

// WriteSupportFile writes p.Support as a support CSV, atomically.
func WriteSupportFile(path string, p *Portfolio) error {
	if len(p.Support) != p.Len() {
		return fmt.Errorf("%s: %d supports for %d instances", p.Source, len(p.Support), p.Len())
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString("instance,value\n")
		var buf []byte
		for k, id := range p.IDs {
			for _, x := range p.Support[k] {
				buf = appendField(buf[:0], id)
				buf = append(buf, ',')
				buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
				buf = append(buf, '\n')
				bw.Write(buf)
			}
		}
		return bw.Flush()
	})
}
