// Package notebooks holds ptft's GoNB notebooks; its test executes every
// notebook headless with the GoNB kernel and fails on any cell error.
package notebooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installHelp says what the notebook test needs.
const installHelp = `the notebook test needs Jupyter and GoNB:
  apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient
  go install -modfile=tools.mod github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports golang.org/x/tools/gopls
(from the repository root; GoNB v0.11.4 and gopls v0.23.0 are pinned in tools.mod; $(go env GOPATH)/bin must be on PATH)`

// UpdateVar, set to 1, writes the executed notebooks back into notebooks/
// (how the committed outputs are regenerated).
const UpdateVar = "PTFT_NOTEBOOK_UPDATE"

func TestNotebooksExecute(t *testing.T) {
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(strings.TrimSpace(string(gopath)), "bin")
	path := os.Getenv("PATH") + string(os.PathListSeparator) + gobin
	var missing []string
	if err := exec.Command("jupyter", "nbconvert", "--version").Run(); err != nil {
		missing = append(missing, "jupyter nbconvert")
	}
	tools := map[string]string{}
	for _, tool := range []string{"gonb", "goimports", "gopls"} {
		p, err := lookPath(tool, path)
		if err != nil {
			missing = append(missing, tool)
		}
		tools[tool] = p
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s; %s", strings.Join(missing, ", "), installHelp)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// A kernel of our own in a private Jupyter data folder, wired to this
	// checkout through go.work, so a kernel registered for another clone
	// cannot leak in.
	jupyterData := t.TempDir()
	env := append(os.Environ(), "PATH="+path, "JUPYTER_DATA_DIR="+jupyterData)
	install := exec.Command(tools["gonb"], "--install", "--go_work="+root, "--logtostderr")
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("gonb --install: %v\n%s", err, out)
	}
	books, err := filepath.Glob("*.ipynb")
	if err != nil || len(books) == 0 {
		t.Fatalf("no notebooks (%v)", err)
	}
	outDir := t.TempDir()
	if os.Getenv(UpdateVar) == "1" {
		outDir, _ = os.Getwd()
	}
	for _, nb := range books {
		t.Run(strings.TrimSuffix(nb, ".ipynb"), func(t *testing.T) {
			start := time.Now()
			cmd := exec.Command("jupyter", "nbconvert", "--to", "notebook", "--execute",
				"--ExecutePreprocessor.timeout=1500", "--output-dir", outDir, nb)
			cmd.Env = env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\n%s", nb, err, tail(stderr.String(), 60))
			}
			if msgs := cellErrors(t, filepath.Join(outDir, nb)); len(msgs) > 0 {
				t.Fatalf("%s: cell errors:\n%s", nb, strings.Join(msgs, "\n"))
			}
			t.Logf("%s executed in %.0f s", nb, time.Since(start).Seconds())
		})
	}
}

// cellErrors lists error outputs of an executed notebook, and Go panics
// printed on standard error.
func cellErrors(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nb struct {
		Cells []struct {
			ID      string `json:"id"`
			Outputs []struct {
				OutputType string   `json:"output_type"`
				Name       string   `json:"name"`
				Text       []string `json:"text"`
				Ename      string   `json:"ename"`
				Evalue     string   `json:"evalue"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var msgs []string
	for _, c := range nb.Cells {
		for _, o := range c.Outputs {
			text := strings.Join(o.Text, "")
			if o.OutputType == "error" || (o.Name == "stderr" && strings.Contains(text, "panic:")) {
				msgs = append(msgs, fmt.Sprintf("cell %s: %s %s %s", c.ID, o.Ename, o.Evalue, tail(text, 20)))
			}
		}
	}
	return msgs
}

func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
