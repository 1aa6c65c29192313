package cli

import (
	"os"
	"testing"
)

// TestMain lets a test run the CLI in a child process (the test binary
// re-executed with SHITU_CLI_MAIN=1 and the CLI's arguments after "--"), so
// that a server's memory and survival are measured on a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SHITU_CLI_MAIN") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Exit(Main(os.Args[i+1:], os.Stdout, os.Stderr))
			}
		}
		os.Exit(2)
	}
	os.Exit(m.Run())
}
