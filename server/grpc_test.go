package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shitu-go/shitu/api"
	shituv1 "github.com/shitu-go/shitu/api/proto/shitu/v1"
)

// grpcFixture serves the fixture's server over gRPC on loopback too.
func grpcFixture(t *testing.T, cfg Config) (*fixture, *grpc.ClientConn) {
	t.Helper()
	f := newFixture(t, cfg)
	ln, err := f.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := f.srv.GRPCServer()
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return f, conn
}

// apiResponse reads a gRPC answer back into the REST API's type, timings
// left out (they are measured, not answers).
func apiResponse(r *shituv1.RecognizeResponse) api.RecognizeResponse {
	out := api.RecognizeResponse{Objects: []api.Object{}, Gallery: r.Gallery, GalleryVersion: r.GalleryVersion,
		Width: int(r.Width), Height: int(r.Height), Synthetic: r.Synthetic}
	for _, o := range r.Objects {
		ao := api.Object{DetScore: o.DetScore, WholeImage: o.WholeImage, Label: o.Label, Score: o.Score,
			Threshold: o.Threshold, Candidates: []api.Candidate{}}
		for i, v := range o.Bbox {
			ao.BBox[i] = int(v)
		}
		for _, c := range o.Candidates {
			ao.Candidates = append(ao.Candidates, api.Candidate{ID: c.Id, Label: c.Label, Score: c.Score})
		}
		out.Objects = append(out.Objects, ao)
	}
	return out
}

func sameAnswer(t *testing.T, name string, h *api.RecognizeResponse, g *shituv1.RecognizeResponse) {
	t.Helper()
	hc := *h
	hc.TimingsMS, hc.Image = api.Timings{}, ""
	if got := apiResponse(g); !reflect.DeepEqual(got, hc) {
		t.Fatalf("%s: gRPC answer differs from HTTP:\n grpc %+v\n http %+v", name, got, hc)
	}
}

func TestGRPCSameAnswersAsHTTP(t *testing.T) {
	f, conn := grpcFixture(t, Config{})
	ctx := context.Background()
	c := shituv1.NewShituClient(conn)
	// Items added over gRPC are seen by HTTP, and the other way round.
	if _, err := c.AddItems(ctx, &shituv1.AddItemsRequest{Items: []*shituv1.NewItem{
		{Image: pngBytes(t, solid(palette[0], 32, 24)), Label: "red", Metadata: map[string]string{"shelf": "a"}},
		{Image: pngBytes(t, solid(palette[1], 32, 24)), Label: "green", Metadata: map[string]string{"shelf": "b"}}}}); err != nil {
		t.Fatal(err)
	}
	f.addColours(t, "red2", "green2", "blue")

	scores := float32(0.5)
	cases := []struct {
		name string
		img  []byte
		o    api.RecognizeOptions
	}{
		{"known", jpegBytes(t, solid(palette[1], 64, 48)), api.RecognizeOptions{}},
		{"unknown", pngBytes(t, solid(palette[5], 20, 20)), api.RecognizeOptions{}},
		{"topk", jpegBytes(t, solid(palette[2], 40, 40)), api.RecognizeOptions{TopK: 2, ScoreThreshold: &scores}},
		{"filter", jpegBytes(t, solid(palette[1], 64, 48)), api.RecognizeOptions{Labels: []string{"red"}, Metadata: map[string]string{"shelf": "a"}}},
	}
	stream, err := c.RecognizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var https []*api.RecognizeResponse
	for _, tc := range cases {
		h, err := f.c.Recognize(ctx, tc.img, tc.o)
		if err != nil {
			t.Fatalf("%s: http: %v", tc.name, err)
		}
		https = append(https, h)
		req := &shituv1.RecognizeRequest{Image: tc.img, Topk: int32(tc.o.TopK), ScoreThreshold: tc.o.ScoreThreshold,
			Labels: tc.o.Labels, Metadata: tc.o.Metadata}
		g, err := c.Recognize(ctx, req)
		if err != nil {
			t.Fatalf("%s: grpc: %v", tc.name, err)
		}
		sameAnswer(t, tc.name, h, g)
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	// A failed image in a stream answers with its error; the rest go on.
	stream.Send(&shituv1.RecognizeRequest{Image: []byte("not an image")})
	stream.CloseSend()
	seen := map[int64]bool{}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Index] = true
		if m.Index == int64(len(cases)) {
			if m.Error == nil || m.Error.Kind != "bad_image" || codes.Code(m.Error.Code) != codes.InvalidArgument {
				t.Fatalf("stream: bad image answered %+v", m)
			}
			continue
		}
		if m.Error != nil {
			t.Fatalf("stream %d: %+v", m.Index, m.Error)
		}
		sameAnswer(t, "stream "+cases[m.Index].name, https[m.Index], m.Result)
	}
	if len(seen) != len(cases)+1 {
		t.Fatalf("stream answered %d of %d", len(seen), len(cases)+1)
	}

	// Visualisation: the same JPEG bytes as HTTP's base64.
	img := cases[0].img
	h, err := f.c.Recognize(ctx, img, api.RecognizeOptions{Visualize: true})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img, Visualize: true})
	if err != nil {
		t.Fatal(err)
	}
	if base64.StdEncoding.EncodeToString(g.Image) != h.Image || len(g.Image) == 0 {
		t.Fatalf("visualisation differs: %d bytes over gRPC", len(g.Image))
	}

	// Items, galleries.
	hl, err := f.c.ListItems(ctx, "", "", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	gl, err := c.ListItems(ctx, &shituv1.ListItemsRequest{Limit: 2})
	if err != nil || len(gl.Items) != len(hl.Items) || gl.Next != hl.Next {
		t.Fatalf("list: %v %+v vs %+v", err, gl, hl)
	}
	for i, it := range gl.Items {
		if it.Id != hl.Items[i].ID || it.Label != hl.Items[i].Label || it.Sha256 != hl.Items[i].SHA256 || !reflect.DeepEqual(it.Metadata, hl.Items[i].Metadata) {
			t.Fatalf("list item %d: %+v vs %+v", i, it, hl.Items[i])
		}
	}
	hi, _ := f.c.GetItem(ctx, "", hl.Items[1].ID)
	gi, err := c.GetItem(ctx, &shituv1.GetItemRequest{Id: hl.Items[1].ID})
	if err != nil || gi.Label != hi.Label || gi.Id != hi.ID {
		t.Fatalf("get: %v %+v vs %+v", err, gi, hi)
	}
	hg, _ := f.c.Gallery(ctx, "")
	gg, err := c.GalleryInfo(ctx, &shituv1.GalleryInfoRequest{Counts: true})
	if err != nil || gg.Name != hg.Name || int(gg.Items) != hg.Items || gg.Version != hg.Version || gg.LabelCounts["red"] != 1 {
		t.Fatalf("gallery: %v %+v vs %+v", err, gg, hg)
	}
	gls, err := c.ListGalleries(ctx, &shituv1.ListGalleriesRequest{})
	if err != nil || len(gls.Galleries) != len(f.srv.Galleries()) {
		t.Fatalf("galleries: %v %+v", err, gls)
	}
	if r, err := c.DeleteItem(ctx, &shituv1.DeleteItemRequest{Id: hl.Items[0].ID}); err != nil || r.Removed != 1 {
		t.Fatalf("delete item: %v %+v", err, r)
	}
	if _, err := f.c.GetItem(ctx, "", hl.Items[0].ID); err == nil {
		t.Fatal("an item deleted over gRPC is still served over HTTP")
	}
	if r, err := c.DeleteLabel(ctx, &shituv1.DeleteLabelRequest{Label: "blue"}); err != nil || r.Removed != 1 {
		t.Fatalf("delete label: %v %+v", err, r)
	}
	if _, err := c.DeleteLabel(ctx, &shituv1.DeleteLabelRequest{Label: "blue"}); status.Code(err) != codes.NotFound {
		t.Fatalf("delete missing label: %v", err)
	}
	if _, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img, Gallery: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("missing gallery: %v", err)
	}
}

// rawCodec sends and receives bytes as they are: the pipeline test client
// below writes and reads Paddle Serving's messages by their field numbers,
// independent of the generated Go code.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// pipelineResponse is Paddle Serving's Response as its client reads it.
type pipelineResponse struct {
	ErrNo  int
	ErrMsg string
	Key    []string
	Value  []string
}

// pipelinePredict is what Paddle Serving's PipelineClient.predict (used by
// PaddleClas's pipeline_rpc_client.py) sends for feed_dict={"image": b64}:
// Request{key: ["image"], value: [b64], logid, clientip} to
// /baidu.paddle_serving.pipeline_serving.PipelineService/inference; it
// returns the Response as is (err_no, err_msg, key, value).
func pipelinePredict(t *testing.T, conn *grpc.ClientConn, keys, values []string, md ...string) (pipelineResponse, error) {
	t.Helper()
	var req []byte
	for _, k := range keys {
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendString(req, k)
	}
	for _, v := range values {
		req = protowire.AppendTag(req, 2, protowire.BytesType)
		req = protowire.AppendString(req, v)
	}
	req = protowire.AppendTag(req, 5, protowire.VarintType) // logid
	req = protowire.AppendVarint(req, 10000)
	req = protowire.AppendTag(req, 6, protowire.BytesType) // clientip
	req = protowire.AppendString(req, "127.0.0.1")
	ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
	var resp []byte
	if err := conn.Invoke(ctx, "/baidu.paddle_serving.pipeline_serving.PipelineService/inference", &req, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		return pipelineResponse{}, err
	}
	var out pipelineResponse
	for len(resp) > 0 {
		num, typ, n := protowire.ConsumeTag(resp)
		if n < 0 {
			t.Fatalf("pipeline response: bad tag")
		}
		resp = resp[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(resp)
			out.ErrNo, n = int(int32(v)), m
		case typ == protowire.BytesType:
			v, m := protowire.ConsumeString(resp)
			switch num {
			case 2:
				out.ErrMsg = v
			case 3:
				out.Key = append(out.Key, v)
			case 4:
				out.Value = append(out.Value, v)
			}
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, resp)
		}
		if n < 0 {
			t.Fatalf("pipeline response: bad field %d", num)
		}
		resp = resp[n:]
	}
	return out, nil
}

// servingHTTP asks the same over HTTP: POST /recognition/prediction.
func servingHTTP(t *testing.T, f *fixture, keys, values []string) api.ServingResponse {
	t.Helper()
	body, _ := json.Marshal(api.ServingRequest{Key: keys, Value: values})
	resp, err := http.Post(f.ts.URL+"/recognition/prediction", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h api.ServingResponse
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestGRPCPaddleServingPipeline(t *testing.T) {
	f, conn := grpcFixture(t, Config{})
	f.addColours(t, "red", "green", "blue")
	for i, img := range [][]byte{jpegBytes(t, solid(palette[1], 64, 48)), pngBytes(t, solid(palette[5], 20, 20))} {
		b64 := base64.StdEncoding.EncodeToString(img)
		h := servingHTTP(t, f, []string{"image"}, []string{b64})
		g, err := pipelinePredict(t, conn, []string{"image"}, []string{b64})
		if err != nil {
			t.Fatal(err)
		}
		if g.ErrNo != 0 || h.ErrNo != 0 || !reflect.DeepEqual(g.Key, h.Key) || !reflect.DeepEqual(g.Value, h.Value) || len(g.Value) != 1 {
			t.Fatalf("image %d: gRPC %+v, HTTP %+v", i, g, h)
		}
		if i == 0 && !strings.Contains(g.Value[0], "'rec_docs': 'green'") {
			t.Fatalf("image %d: %q", i, g.Value[0])
		}
	}
	// Errors are err_no (the HTTP status) with an OK gRPC status, as HTTP answers them.
	keys := make([]string, maxServingKeys+1)
	for _, tc := range []struct {
		keys, values []string
		errNo        int
	}{
		{[]string{"img"}, []string{"x"}, 400},
		{keys, keys, 400},
		{[]string{"image"}, []string{base64.StdEncoding.EncodeToString([]byte("not an image"))}, 422},
	} {
		g, err := pipelinePredict(t, conn, tc.keys, tc.values)
		if err != nil || g.ErrNo != tc.errNo || g.ErrMsg == "" {
			t.Fatalf("%v: %v %+v", tc.keys, err, g)
		}
		if h := servingHTTP(t, f, tc.keys, tc.values); h.ErrNo != g.ErrNo || h.ErrMsg != g.ErrMsg {
			t.Fatalf("%v: gRPC %+v, HTTP %+v", tc.keys, g, h)
		}
	}
}

func TestGRPCAuth(t *testing.T) {
	ctx := context.Background()
	img := jpegBytes(t, solid(palette[1], 16, 16))
	add := &shituv1.AddItemsRequest{Items: []*shituv1.NewItem{{Image: pngBytes(t, solid(palette[0], 16, 16)), Label: "red"}}}
	withMD := func(kv ...string) context.Context { return metadata.AppendToOutgoingContext(ctx, kv...) }

	_, conn := grpcFixture(t, Config{APIKey: "sekret"})
	c := shituv1.NewShituClient(conn)
	if _, err := c.AddItems(ctx, add); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("add without key: %v", err)
	}
	if _, err := c.AddItems(withMD("authorization", "Bearer wrong"), add); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("add with a wrong key: %v", err)
	}
	if _, err := c.AddItems(withMD("authorization", "Bearer sekret"), add); err != nil {
		t.Fatalf("add with bearer: %v", err)
	}
	if _, err := c.AddItems(withMD("x-api-key", "sekret"), add); err != nil {
		t.Fatalf("add with x-api-key: %v", err)
	}
	if _, err := c.DeleteLabel(ctx, &shituv1.DeleteLabelRequest{Label: "red"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("delete label without key: %v", err)
	}
	if _, err := c.DeleteItem(ctx, &shituv1.DeleteItemRequest{Id: 1}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("delete item without key: %v", err)
	}
	if _, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img}); err != nil {
		t.Fatalf("reads are open without --auth-reads: %v", err)
	}

	_, conn = grpcFixture(t, Config{APIKey: "sekret", AuthReads: true})
	c = shituv1.NewShituClient(conn)
	if _, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("recognize without key under --auth-reads: %v", err)
	}
	if _, err := c.ListItems(ctx, &shituv1.ListItemsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("list without key under --auth-reads: %v", err)
	}
	if _, err := pipelinePredict(t, conn, []string{"image"}, []string{"x"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("pipeline without key under --auth-reads: %v", err)
	}
	if _, err := c.Recognize(withMD("authorization", "Bearer sekret"), &shituv1.RecognizeRequest{Image: img}); err != nil {
		t.Fatalf("recognize with key: %v", err)
	}
	if r, err := c.Health(ctx, &shituv1.HealthRequest{}); err != nil || !r.Ready {
		t.Fatalf("health stays open: %v %v", err, r)
	}
	if r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("grpc.health.v1 stays open: %v %v", err, r)
	}
}

func TestGRPCBounds(t *testing.T) {
	f, conn := grpcFixture(t, Config{MaxBodyBytes: 64 << 10, MaxBatch: 3, MaxTopK: 10})
	f.addColours(t, "red")
	ctx := context.Background()
	c := shituv1.NewShituClient(conn)
	img := jpegBytes(t, solid(palette[1], 16, 16))
	big := float32(5)
	neg := float64(-1)
	for name, r := range map[string]*shituv1.RecognizeRequest{
		"topk over":       {Image: img, Topk: 11},
		"topk negative":   {Image: img, Topk: -1},
		"score":           {Image: img, ScoreThreshold: &big},
		"det threshold":   {Image: img, DetThreshold: &neg},
		"whole_image":     {Image: img, WholeImage: "sometimes"},
		"no image":        {},
		"too many labels": {Image: img, Labels: make([]string, maxFilterLabels+1)},
	} {
		if _, err := c.Recognize(ctx, r); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.ListItems(ctx, &shituv1.ListItemsRequest{Limit: 10001}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("list limit: %v", err)
	}
	if _, err := c.ListItems(ctx, &shituv1.ListItemsRequest{Start: -1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("list start: %v", err)
	}
	var items []*shituv1.NewItem
	for range 4 {
		items = append(items, &shituv1.NewItem{Image: img, Label: "x"})
	}
	if _, err := c.AddItems(ctx, &shituv1.AddItemsRequest{Items: items}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("add over --max-batch: %v", err)
	}
	if _, err := c.AddItems(ctx, &shituv1.AddItemsRequest{Items: []*shituv1.NewItem{{Label: "x"}}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("add without image: %v", err)
	}
	// A message over --max-body is refused by the transport.
	if _, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: make([]byte, 100<<10)}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("message over --max-body: %v", err)
	}
	// A stream is one batch: at most --max-batch images.
	st, err := c.RecognizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		st.Send(&shituv1.RecognizeRequest{Image: img})
	}
	st.CloseSend()
	n := 0
	for {
		_, err = st.Recv()
		if err != nil {
			break
		}
		n++
	}
	if status.Code(err) != codes.InvalidArgument || n != 3 {
		t.Errorf("stream over --max-batch: %d answers, then %v", n, err)
	}
	// The error's ErrorInfo carries the REST API's error code.
	_, err = c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img, Topk: 11})
	d := append(status.Convert(err).Details(), nil)
	if info, ok := d[0].(*errdetails.ErrorInfo); len(d) != 2 || !ok || info.Reason != "bad_request" || !strings.Contains(err.Error(), "topk=11") {
		t.Errorf("error details: %v %v", d, err)
	}
}

func TestGRPCHealthAndReflection(t *testing.T) {
	f, conn := grpcFixture(t, Config{})
	ctx := context.Background()
	h := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", "shitu.v1.Shitu", "baidu.paddle_serving.pipeline_serving.PipelineService"} {
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q: %v %v", svc, err, r)
		}
	}
	f.srv.SetReady(false)
	if r, err := h.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after SetReady(false): %v %v", err, r)
	}
	if r, _ := shituv1.NewShituClient(conn).Health(ctx, &shituv1.HealthRequest{}); r.GetReady() {
		t.Fatal("Health says ready after SetReady(false)")
	}
	rs, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	all := strings.Join(names, " ")
	for _, want := range []string{"shitu.v1.Shitu", "baidu.paddle_serving.pipeline_serving.PipelineService", "grpc.health.v1.Health"} {
		if !strings.Contains(all, want) {
			t.Fatalf("reflection lists %v, not %s", names, want)
		}
	}
	rs.CloseSend()
}

// TestGRPCDeadline: every RPC runs under --timeout, a stream as a whole.
func TestGRPCDeadline(t *testing.T) {
	f, conn := grpcFixture(t, Config{Timeout: 300 * time.Millisecond})
	f.addColours(t, "red")
	f.emb.mu.Lock()
	f.emb.block = make(chan struct{}) // the embedder never answers
	f.emb.mu.Unlock()
	ctx := context.Background()
	c := shituv1.NewShituClient(conn)
	img := jpegBytes(t, solid(palette[0], 16, 16))
	if _, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("recognize past --timeout: %v", err)
	}
	st, err := c.RecognizeStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); status.Code(err) != codes.DeadlineExceeded { // an idle stream ends too
		t.Fatalf("idle stream past --timeout: %v", err)
	}
}

// TestGRPCMinVersion: min_version reaches the gallery's version check as
// /v1's does: a version the gallery has is answered, one it has not
// reached is UNAVAILABLE (a gallery of this process alone never gets
// there; a replica would wait for it).
func TestGRPCMinVersion(t *testing.T) {
	f, conn := grpcFixture(t, Config{})
	ctx := context.Background()
	c := shituv1.NewShituClient(conn)
	f.addColours(t, "red", "green")
	img := jpegBytes(t, solid(palette[1], 40, 40))
	g, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	v := g.GetGalleryVersion()
	if _, err := c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img, MinVersion: v}); err != nil {
		t.Fatalf("min_version %d (the current one): %v", v, err)
	}
	_, err = c.Recognize(ctx, &shituv1.RecognizeRequest{Image: img, MinVersion: v + 5})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "version") {
		t.Fatalf("min_version %d beyond the gallery's %d: %v, want UNAVAILABLE naming the version", v+5, v, err)
	}
}
