package kernels

import (
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestStockKernelsEnv: PTFT_STOCK_KERNELS=1 keeps GoMLX's executors (run
// in a child process, since Install acts once per process).
func TestStockKernelsEnv(t *testing.T) {
	if os.Getenv("PTFT_KERNELS_CHILD") == "1" {
		err := Install()
		if err == nil || Active() || Describe() != "stock" || SetActive(true) {
			t.Fatalf("with %s=1: Install() = %v, Active() = %v", DisableEnvVar, err, Active())
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStockKernelsEnv$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PTFT_KERNELS_CHILD=1", DisableEnvVar+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestFieldChecksNamesAndTypes: the layout check refuses a missing field
// or one of another type.
func TestFieldChecksNamesAndTypes(t *testing.T) {
	type layout struct {
		shape int
		data  any
	}
	lt := reflect.TypeFor[layout]()
	if _, err := field(lt, "data", anyType); err != nil {
		t.Errorf("matching field refused: %v", err)
	}
	if _, err := field(lt, "shape", shapeType); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("field of another type accepted: %v", err)
	}
	if _, err := field(lt, "flat", anyType); err == nil {
		t.Errorf("missing field accepted")
	}
}

// TestInstallReplacesEachOp: with the GoMLX version in go.mod every check
// passes, each replaced entry kept its stock executor for fallback, and
// the table now holds ptft's.
func TestInstallReplacesEachOp(t *testing.T) {
	mustInstall(t)
	for _, r := range replacements {
		name := func(f executor) string { return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name() }
		if got, want := name(stockExecutors[r.op]), simplegoPkgPath+"."+r.stock; got != want {
			t.Errorf("%s: stock executor kept is %s, want %s", r.op, got, want)
		}
		if got := name(nodeExecutors[r.op]); !strings.HasPrefix(got, "github.com/ptft-lab/ptft/workbench/backend/kernels.") {
			t.Errorf("%s: table holds %s", r.op, got)
		}
	}
}

func TestStockOpsParsesTheVariable(t *testing.T) {
	for v, wantAll := range map[string]bool{"": false, "0": false, "1": true, "true": true} {
		if all, ops, err := stockOps(v); err != nil || all != wantAll || len(ops) != 0 {
			t.Errorf("stockOps(%q) = %v, %v, %v", v, all, ops, err)
		}
	}
	all, ops, err := stockOps("Exp, Erf")
	if err != nil || all || !ops["Exp"] || !ops["Erf"] || len(ops) != 2 {
		t.Errorf("stockOps(Exp, Erf) = %v, %v, %v", all, ops, err)
	}
	if all, _, err := stockOps("Exp,Gather"); err == nil || !all || !strings.Contains(err.Error(), "Gather") {
		t.Errorf("an unknown op name: all=%v err=%v", all, err)
	}
}
