package gallery

import (
	"errors"
	"testing"

	"github.com/shitu-go/shitu/vecindex"
)

func TestByLabelAndRelabel(t *testing.T) {
	g, err := Create(t.TempDir(), Options{Model: "m", Dims: 4, Metric: vecindex.IP, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	vec := func(i int) []float32 { v := make([]float32, 4); v[i%4] = 1; return v }
	var items []Item
	for i := 0; i < 10; i++ {
		l := "a"
		if i%2 == 1 {
			l = "可乐"
		}
		items = append(items, Item{Label: l, Source: "s", Vector: vec(i), Meta: map[string]string{"k": "v"}})
	}
	ids, err := g.Add(items...)
	if err != nil {
		t.Fatal(err)
	}
	by := g.ByLabel([]string{"可乐", "none"}, 3)
	if len(by) != 1 || len(by["可乐"]) != 3 || by["可乐"][0].ID != ids[1] || by["可乐"][2].ID != ids[5] {
		t.Fatalf("ByLabel = %+v", by)
	}
	if all := g.ByLabel([]string{"a"}, -1); len(all["a"]) != 5 {
		t.Fatalf("ByLabel(a, all) = %d items", len(all["a"]))
	}
	// Pages of one label: in id order, the count of the whole label.
	if page, n := g.LabelPage("可乐", 2, 2); n != 5 || len(page) != 2 || page[0].ID != ids[5] || page[1].ID != ids[7] {
		t.Fatalf("LabelPage(可乐, 2, 2) = %+v, %d", page, n)
	}
	if page, n := g.LabelPage("可乐", 4, 10); n != 5 || len(page) != 1 || page[0].ID != ids[9] {
		t.Fatalf("LabelPage(可乐, 4, 10) = %+v, %d", page, n)
	}
	if page, n := g.LabelPage("可乐", 9, 10); n != 5 || len(page) != 0 {
		t.Fatalf("LabelPage past the end = %+v, %d", page, n)
	}
	v0 := g.Version()
	nids, err := g.Relabel("雪碧", ids[1], ids[3])
	if err != nil {
		t.Fatal(err)
	}
	if g.Version() != v0+1 || len(nids) != 2 {
		t.Fatalf("version %d→%d, new ids %v", v0, g.Version(), nids)
	}
	if _, err := g.Get(ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old id still there: %v", err)
	}
	it, err := g.Get(nids[0])
	if err != nil || it.Label != "雪碧" || it.Meta["k"] != "v" || it.Vector[1] != 1 {
		t.Fatalf("relabelled item %+v, %v", it, err)
	}
	if c := g.Labels(); c["可乐"] != 3 || c["雪碧"] != 2 {
		t.Fatalf("counts %v", c)
	}
	hits, err := g.Search(vec(1), 10, Query{Labels: []string{"雪碧"}})
	if err != nil || len(hits) != 2 {
		t.Fatalf("search relabelled: %v %v", hits, err)
	}
	if _, err := g.Relabel("x", 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing id: %v", err)
	}
	if _, err := g.Relabel("", nids[0]); !errors.Is(err, ErrLabel) {
		t.Fatalf("empty label: %v", err)
	}
}
