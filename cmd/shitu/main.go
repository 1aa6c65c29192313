// Command shitu is PP-ShiTuV2 — mainbody detection, feature extraction and
// gallery search — as one Go binary. Run `shitu --help`.
package main

import (
	"os"

	"github.com/shitu-go/shitu/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
