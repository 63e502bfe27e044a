//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main outside a browser: the program only makes sense as core.wasm.
func main() {
	fmt.Fprintln(os.Stderr, "this program is the visualizer's simulator: build it with `make wasm` (GOOS=js GOARCH=wasm) and open the UI")
	os.Exit(2)
}
