// Command karbor-gen writes the files derived from the functions'
// declarations (internal/api/routes.go, internal/lambdafn): template.yaml's
// generated block, functions.mk, functions/<name>/main.go, and a skeleton
// events/<name>.json for a route that has none. Run it from the repository
// root: make generate.
package main

import (
	"fmt"
	"os"

	"karbor/internal/local/gen"
)

func main() {
	changed, err := gen.Write(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "karbor-gen:", err)
		os.Exit(1)
	}
	for _, p := range changed {
		fmt.Println("karbor-gen: wrote", p)
	}
}
