package gallery

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const childEnv = "SHITU_GALLERY_CRASH_CHILD"

// labelVec is the deterministic vector of a label, so the parent can check
// stored vectors without knowing what the child drew.
func labelVec(label string) []float32 {
	var seed uint64
	for _, c := range label {
		seed = seed*131 + uint64(c)
	}
	return unitVec(rand.New(rand.NewPCG(seed, 77)), 16)
}

// TestCrashChild is the child of TestDurabilityKill9: it adds and removes
// items at random, printing "try ..." before and "ack ..." after each
// acknowledged change, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("child process of TestDurabilityKill9 only")
	}
	round, _ := strconv.Atoi(os.Getenv(childEnv + "_ROUND"))
	g, err := Open(dir, Options{Model: "crash-model"})
	if err != nil {
		fmt.Println("openfail", err)
		os.Exit(3)
	}
	page, _, err := g.List(ListOptions{Limit: -1})
	if err != nil {
		fmt.Println("listfail", err)
		os.Exit(3)
	}
	var live []int64
	for _, it := range page {
		live = append(live, it.ID)
	}
	r := rand.New(rand.NewPCG(uint64(round), 99))
	w := bufio.NewWriter(os.Stdout)
	for n := 0; ; n++ {
		if len(live) > 0 && r.IntN(3) == 0 {
			k := 1 + r.IntN(2)
			var ids []int64
			for j := 0; j < k && len(live) > 0; j++ {
				i := r.IntN(len(live))
				ids = append(ids, live[i])
				live = append(live[:i], live[i+1:]...)
			}
			fmt.Fprintf(w, "try rm %s\n", joinIDs(ids))
			w.Flush()
			if _, err := g.Remove(ids...); err != nil {
				fmt.Fprintln(w, "fail", err)
				w.Flush()
				os.Exit(4)
			}
			fmt.Fprintf(w, "ack rm %s\n", joinIDs(ids))
			w.Flush()
			continue
		}
		k := 1 + r.IntN(3)
		var items []Item
		var labels []string
		for j := range k {
			l := fmt.Sprintf("r%d-%d-%d", round, n, j)
			labels = append(labels, l)
			items = append(items, Item{Label: l, Source: l + ".jpg", Vector: labelVec(l), Meta: map[string]string{"round": strconv.Itoa(round)}})
		}
		fmt.Fprintf(w, "try add %s\n", strings.Join(labels, ","))
		w.Flush()
		ids, err := g.Add(items...)
		if err != nil {
			fmt.Fprintln(w, "fail", err)
			w.Flush()
			os.Exit(4)
		}
		live = append(live, ids...)
		fmt.Fprintf(w, "ack add %s %s\n", strings.Join(labels, ","), joinIDs(ids))
		w.Flush()
	}
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

func splitIDs(s string) []int64 {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		id, _ := strconv.ParseInt(f, 10, 64)
		out = append(out, id)
	}
	return out
}

// TestDurabilityKill9 kills a process doing adds and removes at random
// moments (25 times) and checks after each kill that every acknowledged
// change is present, the one change in flight is all-or-nothing, and the
// gallery opens cleanly with a consistent store and index.
func TestDurabilityKill9(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in child")
	}
	dir := t.TempDir()
	g, err := Create(dir, Options{Model: "crash-model", Dims: 16, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	want := map[string]int64{} // label → id of every acknowledged live item
	byID := map[int64]string{}
	rng := rand.New(rand.NewPCG(2026, 11))
	const rounds = 25
	totalAcks, inflightDone, inflightLost := 0, 0, 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", childEnv, round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill after a few acknowledged changes plus a random delay, so the
		// kill lands at an arbitrary point of a commit.
		acks, minAcks := 0, 1+rng.IntN(8)
		var inflight string
		var got []string
		deadline := time.After(20 * time.Second)
	wait:
		for acks < minAcks {
			select {
			case l, ok := <-lines:
				if !ok {
					break wait
				}
				got = append(got, l)
				if strings.HasPrefix(l, "ack") {
					acks++
				}
			case <-deadline:
				break wait
			}
		}
		time.Sleep(time.Duration(rng.IntN(10000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		for l := range lines {
			got = append(got, l)
		}
		ws, _ := cmd.Process.Wait()
		if ws != nil && ws.Exited() {
			t.Fatalf("round %d: child exited by itself (%v): %v", round, ws, got)
		}
		for _, l := range got {
			f := strings.Fields(l)
			switch {
			case len(f) >= 3 && f[0] == "try":
				inflight = l
			case len(f) == 4 && f[0] == "ack" && f[1] == "add":
				labels, ids := strings.Split(f[2], ","), splitIDs(f[3])
				for i := range labels {
					want[labels[i]] = ids[i]
					byID[ids[i]] = labels[i]
				}
				inflight = ""
				totalAcks++
			case len(f) == 3 && f[0] == "ack" && f[1] == "rm":
				for _, id := range splitIDs(f[2]) {
					delete(want, byID[id])
					delete(byID, id)
				}
				inflight = ""
				totalAcks++
			case f[0] == "fail" || f[0] == "openfail" || f[0] == "listfail":
				t.Fatalf("round %d: child: %s", round, l)
			}
		}
		c, l := checkCrashState(t, dir, round, want, byID, inflight)
		if c {
			inflightDone++
		}
		if l {
			inflightLost++
		}
	}
	t.Logf("%d kills, %d acknowledged changes, %d live items; unacknowledged in-flight changes found committed %d times, absent %d times",
		rounds, totalAcks, len(want), inflightDone, inflightLost)
	if totalAcks < rounds {
		t.Fatalf("only %d acknowledged changes over %d rounds", totalAcks, rounds)
	}
}

// checkCrashState reopens the gallery and compares it with the acknowledged
// model; the in-flight change is resolved all-or-nothing into the model.
func checkCrashState(t *testing.T, dir string, round int, want map[string]int64, byID map[int64]string, inflight string) (committed, lost bool) {
	t.Helper()
	g, err := Open(dir, Options{Model: "crash-model"})
	if err != nil {
		t.Fatalf("round %d: reopen after kill: %v", round, err)
	}
	defer g.Close()
	items, _, err := g.List(ListOptions{Limit: -1, Vectors: true})
	if err != nil {
		t.Fatalf("round %d: list: %v", round, err)
	}
	have := map[string]Item{}
	for _, it := range items {
		have[it.Label] = it
	}
	if f := strings.Fields(inflight); len(f) == 3 {
		switch f[1] {
		case "add":
			labels := strings.Split(f[2], ",")
			n := 0
			for _, l := range labels {
				if _, ok := have[l]; ok {
					n++
				}
			}
			if n != 0 && n != len(labels) {
				t.Fatalf("round %d: in-flight add %v half present (%d of %d)", round, labels, n, len(labels))
			}
			committed, lost = n == len(labels), n == 0
			if n == len(labels) {
				for _, l := range labels {
					want[l] = have[l].ID
					byID[have[l].ID] = l
				}
			}
		case "rm":
			ids := splitIDs(f[2])
			n := 0
			for _, id := range ids {
				if _, ok := have[byID[id]]; ok {
					n++
				}
			}
			if n != 0 && n != len(ids) {
				t.Fatalf("round %d: in-flight remove %v half applied", round, ids)
			}
			committed, lost = n == 0, n == len(ids)
			if n == 0 {
				for _, id := range ids {
					delete(want, byID[id])
					delete(byID, id)
				}
			}
		}
	}
	if len(have) != len(want) || g.Len() != len(want) {
		t.Fatalf("round %d: gallery holds %d items (view %d), acknowledged model %d", round, len(have), g.Len(), len(want))
	}
	for l, id := range want {
		it, ok := have[l]
		if !ok || it.ID != id {
			t.Fatalf("round %d: acknowledged item %s (id %d) missing or renumbered: %+v", round, l, id, it)
		}
		v := labelVec(l)
		for i := range v {
			if it.Vector[i] != v[i] {
				t.Fatalf("round %d: item %s vector differs", round, l)
			}
		}
		if it.Source != l+".jpg" || it.Meta["round"] == "" {
			t.Fatalf("round %d: item %s fields %+v", round, l, it)
		}
	}
	// Store and index agree: one vector per item, and each item finds itself.
	err = g.db.View(func(tx *bolt.Tx) error {
		if a, b := tx.Bucket(bItems).Stats().KeyN, tx.Bucket(bVecs).Stats().KeyN; a != b {
			return fmt.Errorf("items %d, vectors %d", a, b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	n := 0
	for l, id := range want {
		if n++; n > 20 {
			break
		}
		h, err := g.Search(labelVec(l), 1, Query{})
		if err != nil || len(h) != 1 || h[0].ID != id {
			t.Fatalf("round %d: search for %s: %+v %v", round, l, h, err)
		}
	}
	return committed, lost
}
