package experiments

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table prints a Markdown table with aligned columns: readable in a
// terminal and pasteable into results files.
type Table struct{ rows [][]string }

// NewTable starts a table with its header row.
func NewTable(header ...string) *Table { return &Table{rows: [][]string{header}} }

// Row appends a row.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

// Write prints the table, numeric columns right-aligned.
func (t *Table) Write(w io.Writer) error {
	width := make([]int, len(t.rows[0]))
	for i := range width {
		width[i] = 3 // a Markdown separator cell needs room for dashes
	}
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				fmt.Fprintf(&b, " %s%s |", c, pad)
			} else {
				fmt.Fprintf(&b, " %s%s |", pad, c)
			}
		}
		b.WriteString("\n")
	}
	line(t.rows[0])
	b.WriteString("|")
	for i, wd := range width {
		if i == 0 {
			b.WriteString(" " + strings.Repeat("-", wd) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", wd-1) + ": |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows[1:] {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
