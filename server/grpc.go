package server

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/api/proto/pipeline"
	shituv1 "github.com/shitu-go/shitu/api/proto/shitu/v1"
)

// The gRPC service is a second transport over the same work as the HTTP
// handlers (recognizeV1, addItems, listItems, ..., servingPredict): the
// same bounds, work queue, timeouts and error classification.

// grpcMaxStreams bounds the concurrent RPCs of one connection, and
// grpcMaxConnAge its life (then GOAWAY, and in-flight RPCs get the grace
// of Timeout + ReadTimeout).
const (
	grpcMaxStreams = 256
	grpcMaxConnAge = 10 * time.Minute
)

// GRPCServer returns a gRPC server with shitu.v1.Shitu (the /v1
// operations), Paddle Serving's pipeline service
// (baidu.paddle_serving.pipeline_serving.PipelineService), the standard
// health service (grpc.health.v1, following SetReady) and reflection.
// Messages are bounded by Config.MaxBodyBytes, every RPC by
// Config.Timeout (a stream is one batch: Timeout and MaxBatch images),
// and connections by the HTTP server's timeouts: a connection that does
// not complete its handshake within ReadHeaderTimeout, or holds no RPC
// for IdleTimeout, is closed; none lives past grpcMaxConnAge plus grace.
func (s *Server) GRPCServer() *grpc.Server {
	maxMsg := int(min(s.cfg.MaxBodyBytes, math.MaxInt32))
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMsg),
		grpc.ConnectionTimeout(s.cfg.ReadHeaderTimeout),
		grpc.MaxConcurrentStreams(grpcMaxStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: s.cfg.IdleTimeout,
			// A request message still arriving is not under Timeout yet
			// (the deadline starts with the handler): the connection's
			// age bounds such a slow sender; clients reconnect after GOAWAY.
			MaxConnectionAge:      grpcMaxConnAge,
			MaxConnectionAgeGrace: s.cfg.Timeout + s.cfg.ReadTimeout,
			Time:                  2 * time.Minute,
			Timeout:               20 * time.Second,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second}),
		grpc.ChainUnaryInterceptor(s.grpcUnary),
		grpc.ChainStreamInterceptor(s.grpcStream),
	)
	shituv1.RegisterShituServer(gs, &grpcShitu{s: s})
	pipeline.RegisterPipelineServiceServer(gs, &grpcPipeline{s: s})
	hs := health.NewServer()
	s.healthMu.Lock()
	s.healths = append(s.healths, hs)
	s.healthMu.Unlock()
	s.setHealth(hs, s.ready.Load())
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return gs
}

// setHealth publishes readiness on a health service: the whole server
// ("") and each service by name.
func (s *Server) setHealth(hs *health.Server, ready bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for _, name := range []string{"", shituv1.Shitu_ServiceDesc.ServiceName, pipeline.PipelineService_ServiceDesc.ServiceName} {
		hs.SetServingStatus(name, st)
	}
}

// grpcMutating are the RPCs that change a gallery: the API key is always
// required on them (the HTTP routes wrapped by mutating).
var grpcMutating = map[string]bool{
	shituv1.Shitu_AddItems_FullMethodName:    true,
	shituv1.Shitu_DeleteItem_FullMethodName:  true,
	shituv1.Shitu_DeleteLabel_FullMethodName: true,
}

// grpcOpen reports the RPCs that never need the API key: the health
// checks (openPath of HTTP).
func grpcOpen(method string) bool {
	return method == shituv1.Shitu_Health_FullMethodName || strings.HasPrefix(method, "/grpc.health.v1.Health/")
}

// grpcAuth checks the API key of an RPC, sent as metadata
// "authorization: Bearer KEY" or "x-api-key: KEY", where HTTP checks it.
func (s *Server) grpcAuth(ctx context.Context, method string) error {
	if !grpcMutating[method] && (!s.cfg.AuthReads || grpcOpen(method)) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return s.checkKey(first("authorization"), first("x-api-key"))
}

// grpcCode maps classify's HTTP status to the gRPC code of the same failure.
func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusOK:
		return codes.OK
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.FailedPrecondition
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusInsufficientStorage:
		return codes.ResourceExhausted
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return codes.Unimplemented
	case http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusServiceUnavailable:
		return codes.DeadlineExceeded
	case 499:
		return codes.Canceled
	}
	return codes.Internal
}

// grpcError turns an error of the shared work into a gRPC status whose
// ErrorInfo reason is the REST API's error code (e.g. "bad_request").
func grpcError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err // already a status (grpc's own)
	}
	code, kind := classify(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		msg = "internal error: " + msg
	}
	gc := grpcCode(code)
	if kind == "version_not_reached" || kind == "cluster_unavailable" {
		gc = codes.Unavailable // 503 too, but not a timeout: try later or elsewhere
	}
	st := status.New(gc, msg)
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: kind, Domain: "shitu"}); derr == nil {
		st = d
	}
	return st.Err()
}

// grpcEnd ends an RPC, deferred by the interceptors: it recovers a panic
// as an internal error, logs and counts the RPC as the HTTP middleware
// does a request, and turns *err into a gRPC status.
func (s *Server) grpcEnd(method string, t0 time.Time, err *error) {
	s.m.inflight.Add(-1)
	if p := recover(); p != nil {
		s.cfg.Logger.Error("panic", "method", method, "panic", fmt.Sprint(p))
		*err = fmt.Errorf("internal error")
	}
	code, kind := http.StatusOK, ""
	if st, ok := status.FromError(*err); ok && *err != nil {
		// grpc's own status (a stream cut by its deadline or the client)
		code, kind = http.StatusInternalServerError, "internal"
		switch st.Code() {
		case codes.DeadlineExceeded:
			code, kind = http.StatusServiceUnavailable, "timeout"
		case codes.Canceled:
			code, kind = 499, "canceled"
		}
	} else if *err != nil {
		code, kind = classify(*err)
		defer func() { *err = grpcError(*err) }()
	}
	d := time.Since(t0)
	s.m.observeRequest("grpc "+method, code, kind, d)
	s.cfg.Logger.Info("rpc", "method", method, "code", grpcCode(code).String(), "ms", float64(d.Microseconds())/1e3, "error", kind)
}

func (s *Server) grpcUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	s.m.inflight.Add(1)
	defer s.grpcEnd(info.FullMethod, t0, &err)
	if err := s.grpcAuth(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// timedStream gives a stream's handler a context bounded by Config.Timeout.
type timedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (t timedStream) Context() context.Context { return t.ctx }

func (s *Server) grpcStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ss.Context(), s.cfg.Timeout)
	defer cancel()
	s.m.inflight.Add(1)
	defer s.grpcEnd(info.FullMethod, t0, &err)
	if err := s.grpcAuth(ctx, info.FullMethod); err != nil {
		return err
	}
	return handler(srv, timedStream{ServerStream: ss, ctx: ctx})
}

// grpcShitu implements shitu.v1.Shitu over the shared work.
type grpcShitu struct {
	shituv1.UnimplementedShituServer
	s *Server
}

func recognizeOptionsOf(r *shituv1.RecognizeRequest) api.RecognizeOptions {
	return api.RecognizeOptions{Gallery: r.GetGallery(), TopK: int(r.GetTopk()), ScoreThreshold: r.ScoreThreshold,
		DetThreshold: r.DetThreshold, HammingRadius: r.HammingRadius, WholeImage: r.GetWholeImage(),
		Labels: r.GetLabels(), Metadata: r.GetMetadata(), Visualize: r.GetVisualize(), MinVersion: r.GetMinVersion()}
}

func (g *grpcShitu) recognize(ctx context.Context, r *shituv1.RecognizeRequest) (*shituv1.RecognizeResponse, error) {
	if len(r.GetImage()) == 0 {
		return nil, fmt.Errorf("%w: field \"image\" (the image file's bytes) is required", errBadRequest)
	}
	out, jpg, err := g.s.recognizeV1(ctx, r.GetImage(), recognizeOptionsOf(r))
	if err != nil {
		return nil, err
	}
	return recognizeResponseProto(out, jpg), nil
}

func (g *grpcShitu) Recognize(ctx context.Context, r *shituv1.RecognizeRequest) (*shituv1.RecognizeResponse, error) {
	return g.recognize(ctx, r)
}

// RecognizeStream recognises the stream's images, up to Workers at once
// (the work queue still admits each one), answering each with its index.
func (g *grpcShitu) RecognizeStream(st grpc.BidiStreamingServer[shituv1.RecognizeRequest, shituv1.RecognizeStreamResponse]) error {
	ctx := st.Context()
	var (
		wg      sync.WaitGroup
		sendMu  sync.Mutex
		sendErr error
	)
	sem := make(chan struct{}, g.s.cfg.Workers)
	send := func(m *shituv1.RecognizeStreamResponse) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if sendErr == nil {
			sendErr = st.Send(m)
		}
	}
	// Recv does not observe the stream's deadline (only the client's): it
	// runs in its own goroutine, and the handler stops waiting at ctx's
	// end; returning ends the stream, which ends a pending Recv.
	type recvd struct {
		r   *shituv1.RecognizeRequest
		err error
	}
	in := make(chan recvd)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			r, err := st.Recv()
			select {
			case in <- recvd{r, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var recvErr error
	for i := int64(0); recvErr == nil; i++ {
		var m recvd
		select {
		case m = <-in:
		case <-ctx.Done():
			recvErr = ctx.Err()
			continue
		}
		if m.err != nil {
			if m.err != io.EOF {
				recvErr = m.err
			}
			break
		}
		r := m.r
		if i >= int64(g.s.cfg.MaxBatch) {
			recvErr = fmt.Errorf("%w: more than %d images in one stream (--max-batch)", errBadRequest, g.s.cfg.MaxBatch)
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			recvErr = ctx.Err()
			continue
		}
		wg.Add(1)
		go func(i int64, r *shituv1.RecognizeRequest) {
			defer wg.Done()
			defer func() { <-sem }()
			m := &shituv1.RecognizeStreamResponse{Index: i}
			if res, err := g.recognize(ctx, r); err != nil {
				code, kind := classify(err)
				m.Error = &shituv1.Error{Code: int32(grpcCode(code)), Kind: kind, Message: err.Error()}
			} else {
				m.Result = res
			}
			send(m)
		}(i, r)
	}
	wg.Wait()
	if recvErr != nil {
		return recvErr
	}
	return sendErr
}

func (g *grpcShitu) AddItems(ctx context.Context, r *shituv1.AddItemsRequest) (*shituv1.AddItemsResponse, error) {
	items := make([]api.NewItem, len(r.GetItems()))
	raw := make([][]byte, len(r.GetItems()))
	for i, it := range r.GetItems() {
		items[i] = api.NewItem{Label: it.GetLabel(), Source: it.GetSource(), Metadata: it.GetMetadata()}
		raw[i] = it.GetImage()
	}
	resp, err := g.s.addItems(ctx, r.GetGallery(), items, raw)
	if err != nil {
		return nil, err
	}
	out := &shituv1.AddItemsResponse{GalleryVersion: resp.GalleryVersion}
	for _, it := range resp.Items {
		out.Items = append(out.Items, itemProto(it))
	}
	return out, nil
}

func (g *grpcShitu) ListItems(ctx context.Context, r *shituv1.ListItemsRequest) (*shituv1.ListItemsResponse, error) {
	resp, err := g.s.listItems(r.GetGallery(), r.GetLabel(), r.GetStart(), int(r.GetLimit()))
	if err != nil {
		return nil, err
	}
	out := &shituv1.ListItemsResponse{Next: resp.Next, Items: make([]*shituv1.Item, 0, len(resp.Items))}
	for _, it := range resp.Items {
		out.Items = append(out.Items, itemProto(it))
	}
	return out, nil
}

func (g *grpcShitu) GetItem(ctx context.Context, r *shituv1.GetItemRequest) (*shituv1.Item, error) {
	it, err := g.s.getItem(r.GetGallery(), r.GetId())
	if err != nil {
		return nil, err
	}
	return itemProto(it), nil
}

func (g *grpcShitu) DeleteItem(ctx context.Context, r *shituv1.DeleteItemRequest) (*shituv1.RemoveResponse, error) {
	resp, err := g.s.deleteItem(r.GetGallery(), r.GetId())
	if err != nil {
		return nil, err
	}
	return &shituv1.RemoveResponse{Removed: int32(resp.Removed), GalleryVersion: resp.GalleryVersion}, nil
}

func (g *grpcShitu) DeleteLabel(ctx context.Context, r *shituv1.DeleteLabelRequest) (*shituv1.RemoveResponse, error) {
	resp, err := g.s.deleteLabel(r.GetGallery(), r.GetLabel())
	if err != nil {
		return nil, err
	}
	return &shituv1.RemoveResponse{Removed: int32(resp.Removed), GalleryVersion: resp.GalleryVersion}, nil
}

func (g *grpcShitu) GalleryInfo(ctx context.Context, r *shituv1.GalleryInfoRequest) (*shituv1.Gallery, error) {
	e, err := g.s.gallery(r.GetGallery())
	if err != nil {
		return nil, err
	}
	return galleryProto(g.s.galleryInfo(e, r.GetCounts())), nil
}

func (g *grpcShitu) ListGalleries(ctx context.Context, r *shituv1.ListGalleriesRequest) (*shituv1.ListGalleriesResponse, error) {
	out := &shituv1.ListGalleriesResponse{}
	for _, gi := range g.s.galleryInfos() {
		out.Galleries = append(out.Galleries, galleryProto(gi))
	}
	return out, nil
}

func (g *grpcShitu) Health(ctx context.Context, r *shituv1.HealthRequest) (*shituv1.HealthResponse, error) {
	return &shituv1.HealthResponse{Ready: g.s.ready.Load()}, nil
}

// grpcPipeline implements Paddle Serving's PipelineService: the same
// request and answer as POST /recognition/prediction (ppshitu-pipeline.md
// §13.3), errors as err_no (the HTTP status of the failure) with an OK
// gRPC status, as Paddle Serving answers them.
type grpcPipeline struct {
	pipeline.UnimplementedPipelineServiceServer
	s *Server
}

func (p *grpcPipeline) Inference(ctx context.Context, r *pipeline.Request) (*pipeline.Response, error) {
	out, err := p.s.servingPredict(ctx, r.GetKey(), r.GetValue())
	if err != nil {
		code, _ := classify(err)
		return &pipeline.Response{ErrNo: proto.Int32(int32(code)), ErrMsg: proto.String(err.Error())}, nil
	}
	return &pipeline.Response{ErrNo: proto.Int32(0), ErrMsg: proto.String(""), Key: []string{"result"}, Value: []string{out}}, nil
}

func itemProto(it api.Item) *shituv1.Item {
	return &shituv1.Item{Id: it.ID, Label: it.Label, Source: it.Source, Sha256: it.SHA256, Metadata: it.Metadata}
}

func galleryProto(gi api.GalleryInfo) *shituv1.Gallery {
	out := &shituv1.Gallery{Name: gi.Name, Items: int32(gi.Items), Labels: int32(gi.Labels), Dims: int32(gi.Dims),
		Metric: gi.Metric, Method: gi.Method, Binary: gi.Binary, Model: gi.Model, Version: gi.Version, DiskBytes: gi.DiskBytes}
	if gi.Counts != nil {
		out.LabelCounts = make(map[string]int32, len(gi.Counts))
		for k, v := range gi.Counts {
			out.LabelCounts[k] = int32(v)
		}
	}
	return out
}

func recognizeResponseProto(r *api.RecognizeResponse, jpg []byte) *shituv1.RecognizeResponse {
	t := r.TimingsMS
	out := &shituv1.RecognizeResponse{Gallery: r.Gallery, GalleryVersion: r.GalleryVersion, Width: int32(r.Width),
		Height: int32(r.Height), Image: jpg, Synthetic: r.Synthetic, Objects: make([]*shituv1.Object, 0, len(r.Objects)),
		TimingsMs: &shituv1.Timings{Decode: t.Decode, Detect: t.Detect, Crop: t.Crop, Rec: t.Rec, Search: t.Search, Nms: t.NMS, Total: t.Total}}
	for _, o := range r.Objects {
		po := &shituv1.Object{Bbox: []int32{int32(o.BBox[0]), int32(o.BBox[1]), int32(o.BBox[2]), int32(o.BBox[3])},
			DetScore: o.DetScore, WholeImage: o.WholeImage, Label: o.Label, Score: o.Score, Threshold: o.Threshold,
			Candidates: make([]*shituv1.Candidate, 0, len(o.Candidates))}
		for _, c := range o.Candidates {
			po.Candidates = append(po.Candidates, &shituv1.Candidate{Id: c.ID, Label: c.Label, Score: c.Score})
		}
		out.Objects = append(out.Objects, po)
	}
	return out
}
