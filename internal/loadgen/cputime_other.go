//go:build !unix

package loadgen

import "time"

// ProcessCPU is the user + system CPU time of this process so far, or 0
// where the platform does not report it (here).
func ProcessCPU() time.Duration { return 0 }
