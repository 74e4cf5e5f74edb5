package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ReadObservationsFile reads an observation CSV; see ReadObservations.
func ReadObservationsFile(path string, defaultRatio float64) (*Portfolio, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadObservations(f, path, defaultRatio)
}

// ReadObservations reads long-format observations. name labels errors.
// Instances keep the order of their first row. A row's critical_ratio
// column, when present and non-empty, sets its instance's ratio, and all rows
// of an instance must agree; otherwise defaultRatio applies (0 means none).
func ReadObservations(r io.Reader, name string, defaultRatio float64) (*Portfolio, error) {
	if defaultRatio != 0 {
		if err := CheckRatio(defaultRatio); err != nil {
			return nil, fmt.Errorf("%s: default %w", name, err)
		}
	}
	p := &Portfolio{Source: name}
	index := map[string]int{}
	ratioSet := []bool{}
	err := readLong(r, name, "value", true, func(line int, id string, v float64, ratio string) error {
		k, ok := index[id]
		if !ok {
			k = len(p.IDs)
			index[id] = k
			p.IDs = append(p.IDs, id)
			p.Obs = append(p.Obs, make([]float64, 0, 8))
			p.Ratios = append(p.Ratios, defaultRatio)
			ratioSet = append(ratioSet, false)
		}
		p.Obs[k] = append(p.Obs[k], v)
		if ratio == "" {
			return nil
		}
		rho, err := strconv.ParseFloat(ratio, 64)
		if err != nil {
			return fmt.Errorf("critical_ratio %q is not a number", ratio)
		}
		if err := CheckRatio(rho); err != nil {
			return err
		}
		if ratioSet[k] && p.Ratios[k] != rho {
			return fmt.Errorf("critical_ratio %v differs from %v on an earlier row of the same instance", rho, p.Ratios[k])
		}
		p.Ratios[k], ratioSet[k] = rho, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.Len() == 0 {
		return nil, fmt.Errorf("%s: no observations", name)
	}
	for k, rho := range p.Ratios {
		if rho == 0 {
			return nil, fmt.Errorf("%s: instance %q has no critical ratio: add a critical_ratio column or give a default ratio (--critical-ratio)", name, p.IDs[k])
		}
	}
	return p, nil
}

// ReadDecisionsFile reads a decision CSV (`instance,quantity`, one row per
// instance) and returns the quantities by instance id, and the ids in file
// order.
func ReadDecisionsFile(path string) (map[string]float64, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	q := map[string]float64{}
	var ids []string
	err = readLong(f, path, "quantity", false, func(line int, id string, v float64, _ string) error {
		if _, dup := q[id]; dup {
			return fmt.Errorf("second decision for the same instance")
		}
		q[id] = v
		ids = append(ids, id)
		return nil
	})
	if err == nil && len(ids) == 0 {
		err = fmt.Errorf("%s: no decisions", path)
	}
	return q, ids, err
}

// readLong is the one CSV reader: it checks the header, parses the value
// column as a finite non-negative number and calls row for every record.
// Errors name the file, line and instance.
func readLong(r io.Reader, name, valueCol string, withRatio bool, row func(line int, id string, v float64, ratio string) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file: want a header with columns instance,%s", name, valueCol)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	idCol, valCol, ratioCol := -1, -1, -1
	for i, h := range header {
		col := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		var at *int
		switch col {
		case "instance":
			at = &idCol
		case valueCol:
			at = &valCol
		case "critical_ratio":
			if withRatio {
				at = &ratioCol
			}
		}
		if at == nil {
			continue
		}
		if *at >= 0 {
			return fmt.Errorf("%s:1: column %q appears twice in the header (columns %d and %d)", name, col, *at+1, i+1)
		}
		*at = i
	}
	if idCol < 0 || valCol < 0 {
		return fmt.Errorf("%s:1: header %q lacks column %q or %q", name, strings.Join(header, ","), "instance", valueCol)
	}
	need := max(idCol, valCol, ratioCol) + 1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < need {
			return fmt.Errorf("%s:%d: %d fields, want at least %d", name, line, len(rec), need)
		}
		id := strings.TrimSpace(rec[idCol])
		if id == "" {
			return fmt.Errorf("%s:%d: empty instance id", name, line)
		}
		cell := strings.TrimSpace(rec[valCol])
		v, err := strconv.ParseFloat(cell, 64)
		if err != nil {
			return fmt.Errorf("%s:%d: instance %q: %s %q is not a number", name, line, id, valueCol, cell)
		}
		if err := checkValue(v); err != nil {
			return fmt.Errorf("%s:%d: instance %q: %s %w", name, line, id, valueCol, err)
		}
		ratio := ""
		if ratioCol >= 0 {
			ratio = strings.TrimSpace(rec[ratioCol])
		}
		if err := row(line, id, v, ratio); err != nil {
			return fmt.Errorf("%s:%d: instance %q: %w", name, line, id, err)
		}
	}
}

// WriteObservationsFile writes p as long-format CSV with a critical_ratio
// column, atomically.
func WriteObservationsFile(path string, p *Portfolio) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return writeObservations(w, p) })
}

func writeObservations(w io.Writer, p *Portfolio) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("instance,value,critical_ratio\n")
	var buf []byte
	for k, id := range p.IDs {
		ratio := strconv.FormatFloat(p.Ratios[k], 'g', -1, 64)
		for _, x := range p.Obs[k] {
			buf = appendField(buf[:0], id)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
			buf = append(buf, ',')
			buf = append(buf, ratio...)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
	}
	return bw.Flush()
}

// WriteDecisionsFile writes `instance,quantity` rows atomically. Every
// quantity must be finite and non-negative: otherwise nothing is written
// and the error names the instance.
func WriteDecisionsFile(path string, ids []string, q []float64) error {
	if len(ids) != len(q) {
		return fmt.Errorf("%d ids for %d decisions", len(ids), len(q))
	}
	for k, v := range q {
		if err := checkValue(v); err != nil {
			return fmt.Errorf("%s: instance %q: decision %w; nothing written", path, ids[k], err)
		}
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		bw.WriteString("instance,quantity\n")
		var buf []byte
		for k, id := range ids {
			buf = appendField(buf[:0], id)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, q[k], 'g', -1, 64)
			buf = append(buf, '\n')
			bw.Write(buf)
		}
		return bw.Flush()
	})
}

// appendField quotes an id the way encoding/csv would need it.
func appendField(buf []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") && strings.TrimSpace(s) == s {
		return append(buf, s...)
	}
	return append(append(append(buf, '"'), strings.ReplaceAll(s, `"`, `""`)...), '"')
}
