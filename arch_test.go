package tollgate_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tollgate-dev/tollgate"

// TestDependencyDirection holds the layering of DESIGN.md: the root imports
// only the standard library, the pure packages never reach the data plane,
// the control plane or a concrete store, and nothing imports cmd.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string][]string{
		"policy":   {"proxy", "control", "store", "cmd", "identity", "tenancy", "quota", "audit"},
		"signer":   {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"resolver": {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"quota":    {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"audit":    {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"apikey":   {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"keyseal":  {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"certs":    {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"upstream": {"proxy", "control", "store", "cmd", "identity", "tenancy", "policy", "resolver", "audit"},
		"config":   {"proxy", "control", "store", "cmd", "identity", "tenancy"},
		"proxy":    {"control", "store", "cmd", "tenancy", "identity"},
		"control":  {"proxy", "store", "cmd", "tenancy"},
		"identity": {"proxy", "control", "store", "cmd", "tenancy"},
		"store":    {"proxy", "control", "cmd", "identity", "tenancy"},
		"tenancy":  {"control", "store", "cmd"},
		"cli":      {"proxy", "store", "cmd", "tenancy"},
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var pkg struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&pkg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg.ImportPath, module), "/")
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module) {
				if rel == "" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("the root package imports %s: it must use only the standard library", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if rel == "" && dep != "" {
				t.Errorf("the root package imports %s", imp)
			}
			if strings.HasPrefix(dep, "cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", pkg.ImportPath, imp)
			}
			top := strings.SplitN(rel, "/", 2)[0]
			for _, bad := range forbidden[top] {
				if (dep == bad || strings.HasPrefix(dep, bad+"/")) && !strings.HasPrefix(dep, top) {
					t.Errorf("%s imports %s: %s must not depend on %s", pkg.ImportPath, imp, top, bad)
				}
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list reported only %d packages", seen)
	}
}
