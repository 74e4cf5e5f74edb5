package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// runKernel is `ptft kernel install`: it registers GoNB as a Jupyter kernel
// whose notebooks start with a go.work that uses this repository, so
// `import "github.com/ptft-lab/ptft/..."` in a notebook compiles the local
// workbench, not a published version.
func runKernel(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "install" {
		return fmt.Errorf("%w: want `ptft kernel install [--repo DIR] [--gonb PATH]`", errUsage)
	}
	fs := flag.NewFlagSet("kernel install", flag.ContinueOnError)
	repo := fs.String("repo", ".", "root of the ptft repository the notebooks should import")
	gonb := fs.String("gonb", "", "GoNB binary (default: gonb on PATH, else $(go env GOPATH)/bin/gonb)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("%s is not the ptft repository root (no go.mod)", root)
	}
	bin, err := findGoNB(*gonb)
	if err != nil {
		return err
	}
	for _, tool := range []string{"goimports", "gopls"} {
		if _, err := lookTool(tool); err != nil {
			return fmt.Errorf("GoNB needs %s: run `go install -modfile=tools.mod golang.org/x/tools/cmd/goimports golang.org/x/tools/gopls` in %s, and put $(go env GOPATH)/bin on PATH", tool, root)
		}
	}
	cmd := exec.Command(bin, "--install", "--go_work="+root, "--logtostderr")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s --install: %w", bin, err)
	}
	fmt.Fprintf(stdout, "GoNB kernel installed (go.work uses %s); start Jupyter with: jupyter notebook %s\n", root, filepath.Join(root, "notebooks"))
	return nil
}

func findGoNB(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if p, err := lookTool("gonb"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("GoNB not found: run `go install -modfile=tools.mod github.com/janpfeifer/gonb` in the repository (GoNB v0.11.4 is pinned in tools.mod), or pass --gonb")
}

// lookTool finds a Go tool on PATH or in $(go env GOPATH)/bin.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}
