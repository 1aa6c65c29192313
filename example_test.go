package shitu_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/server"
)

// Recognise one image with a PaddleClas inference config: detection,
// features and the search in the gallery of IndexProcess.index_dir.
func Example() {
	ctx := context.Background()
	sys, err := shitu.OpenFile(ctx, exampleConfig, nil, shitu.Options{ORTLib: ortLib})
	if err != nil {
		log.Fatal(err)
	}
	defer sys.Close()
	res, err := sys.RecognizeFile(ctx, exampleQuery)
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range res.Objects {
		fmt.Println(o.Box, o.Label)
	}
	// Output:
	// [0 0 240 320] product_01
}

// Build a gallery from a PaddleClas list file ("path<TAB>label" lines,
// IndexProcess.data_file), then recognise with it. -o style overrides put
// the gallery in another folder.
func ExampleSystem_Build() {
	ctx := context.Background()
	dir := filepath.Join(exampleDir, "built")
	sys, err := shitu.OpenFile(ctx, exampleConfig, []string{"IndexProcess.index_dir=" + dir},
		shitu.Options{ORTLib: ortLib, NoGallery: true})
	if err != nil {
		log.Fatal(err)
	}
	defer sys.Close()
	res, err := sys.Build(ctx, shitu.BuildOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d lines, %d added, %d problems\n", res.Operation, res.Lines, res.Added, len(res.Problems))
	if _, err := sys.OpenGallery(shitu.DefaultGallery, dir); err != nil {
		log.Fatal(err)
	}
	r, err := sys.RecognizeFile(ctx, exampleQuery)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Objects[0].Label)
	// Output:
	// new: 12 lines, 12 added, 0 problems
	// product_01
}

// Mount shitu's HTTP service (REST /v1, Paddle Serving, PaddleX) under a
// prefix of your own http.Server, and call it with the Go client.
func Example_handler() {
	ctx := context.Background()
	sys, err := shitu.OpenFile(ctx, exampleConfig, nil, shitu.Options{ORTLib: ortLib})
	if err != nil {
		log.Fatal(err)
	}
	defer sys.Close()
	srv, err := server.New(sys, server.Config{Recognize: sys.Options()})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/shitu/", http.StripPrefix("/shitu", srv.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()

	img, err := os.ReadFile(exampleQuery)
	if err != nil {
		log.Fatal(err)
	}
	c := &api.Client{Base: "http://" + ln.Addr().String() + "/shitu"}
	res, err := c.Recognize(ctx, img, api.RecognizeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*res.Objects[0].Label)
	// Output:
	// product_01
}
