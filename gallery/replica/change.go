package replica

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shitu-go/shitu/gallery"
)

// Change operations in the log (docs/format/replica.md).
const (
	opAdd         = "add"
	opRemove      = "remove"
	opRemoveLabel = "remove_label"
	opRelabel     = "relabel"
	opThresholds  = "thresholds"
)

// msgFormat is the version of the change record.
const msgFormat = 1

// record is one change as stored in the gallery's stream, JSON encoded.
// Vectors travel as little-endian float32 bytes (codes as is).
type record struct {
	Format int                 `json:"f"`
	ID     string              `json:"id"` // change id, also the Nats-Msg-Id
	Op     string              `json:"op"`
	Items  []item              `json:"items,omitempty"`
	IDs    []int64             `json:"ids,omitempty"`
	Label  string              `json:"label,omitempty"`
	Thresh *gallery.Thresholds `json:"thresholds,omitempty"`
}

type item struct {
	Label  string            `json:"label"`
	Source string            `json:"source,omitempty"`
	SHA256 string            `json:"sha256,omitempty"`
	Doc    string            `json:"doc,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
	Vec    []byte            `json:"vec,omitempty"`
	Code   []byte            `json:"code,omitempty"`
}

func toRecordItem(it gallery.Item) item {
	out := item{Label: it.Label, Source: it.Source, SHA256: it.SHA256, Doc: it.Doc, Meta: it.Meta, Code: it.Code}
	if it.Vector != nil {
		out.Vec = make([]byte, 0, 4*len(it.Vector))
		for _, v := range it.Vector {
			out.Vec = binary.LittleEndian.AppendUint32(out.Vec, math.Float32bits(v))
		}
	}
	return out
}

func (it item) galleryItem() (gallery.Item, error) {
	out := gallery.Item{Label: it.Label, Source: it.Source, SHA256: it.SHA256, Doc: it.Doc, Meta: it.Meta, Code: it.Code}
	if len(it.Vec)%4 != 0 {
		return out, fmt.Errorf("%w: vector of %d bytes", ErrRecord, len(it.Vec))
	}
	if len(it.Vec) > 0 {
		out.Vector = make([]float32, len(it.Vec)/4)
		for i := range out.Vector {
			out.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(it.Vec[4*i:]))
		}
	}
	return out, nil
}

func newChangeID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Result is what a change did once applied by this replica.
type Result struct {
	// Version is the gallery version the change made: its sequence in the
	// log. A recognition asking for this minimum version sees the change.
	Version uint64
	// IDs are the ids of added items, in order (add and relabel).
	IDs []int64
	// Removed counts the items removed (remove, remove_label, relabel).
	Removed int
}

// Add writes items (Vector or Code filled, as gallery.Gallery.Add takes
// them) to the log as one change and returns once it is acknowledged by a
// quorum of the cluster and applied here. images, when not nil, holds the
// image bytes of each item (nil entries allowed): they are kept in the
// gallery's object store under their SHA-256 (Item.SHA256 must then be
// set) for a later re-extraction.
func (r *Replica) Add(ctx context.Context, items []gallery.Item, images [][]byte) (Result, error) {
	if len(items) == 0 {
		return Result{Version: r.Version()}, nil
	}
	rec := record{Op: opAdd, Items: make([]item, len(items))}
	for i, it := range items {
		if it.Vector == nil && it.Code == nil {
			return Result{}, fmt.Errorf("%w: item %d has no vector", gallery.ErrDims, i)
		}
		if it.Vector != nil && len(it.Vector) != r.g.Dims() && !r.g.Binary() {
			return Result{}, fmt.Errorf("%w: item %d has %d values, gallery has %d", gallery.ErrDims, i, len(it.Vector), r.g.Dims())
		}
		rec.Items[i] = toRecordItem(it)
	}
	for i, b := range images {
		if b == nil || i >= len(items) || items[i].SHA256 == "" {
			continue
		}
		if err := r.putImage(ctx, items[i].SHA256, b); err != nil {
			return Result{}, err
		}
	}
	res, err := r.commit(ctx, rec)
	if err == nil && len(images) > 0 {
		r.ensureImages(ctx, items, images)
	}
	return res, err
}

// Remove deletes items by id as one change.
func (r *Replica) Remove(ctx context.Context, ids ...int64) (Result, error) {
	return r.commit(ctx, record{Op: opRemove, IDs: ids})
}

// RemoveLabel deletes every item of a label (as of the change's place in
// the log) as one change.
func (r *Replica) RemoveLabel(ctx context.Context, label string) (Result, error) {
	return r.commit(ctx, record{Op: opRemoveLabel, Label: label})
}

// Relabel gives items a new label as one change: each is replaced by a
// copy (same vector, source and metadata) under a new id.
func (r *Replica) Relabel(ctx context.Context, label string, ids ...int64) (Result, error) {
	return r.commit(ctx, record{Op: opRelabel, Label: label, IDs: ids})
}

// SetThresholds stores acceptance thresholds as one change.
func (r *Replica) SetThresholds(ctx context.Context, t gallery.Thresholds) (Result, error) {
	return r.commit(ctx, record{Op: opThresholds, Thresh: &t})
}

// commit publishes rec and waits for this replica to apply it.
func (r *Replica) commit(ctx context.Context, rec record) (Result, error) {
	if len(rec.IDs) > MaxChangeIDs {
		return Result{}, fmt.Errorf("%w: %d item ids in one change, at most %d; split it", ErrTooLarge, len(rec.IDs), MaxChangeIDs)
	}
	rec.Format, rec.ID = msgFormat, newChangeID()
	body, err := json.Marshal(rec)
	if err != nil {
		return Result{}, fmt.Errorf("replica: %w", err)
	}
	if max := r.js.Conn().MaxPayload(); max > 0 && int64(len(body))+headerRoom > max {
		return Result{}, fmt.Errorf("%w: the change is %d bytes, the NATS server takes at most %d in one message; split it into smaller changes",
			ErrTooLarge, len(body), max-headerRoom)
	}
	seq, err := r.publish(ctx, rec.ID, body)
	if err != nil {
		return Result{}, err
	}
	return r.await(ctx, seq)
}

// headerRoom is what a published record's headers (message id, expected
// stream) take of the NATS server's maximum payload, at most.
const headerRoom = 512

// publish appends one record and returns its sequence once JetStream
// acknowledged it (a quorum of the stream's replicas stored it). A
// publish that got no acknowledgement is retried with the same message
// id, which JetStream deduplicates (Config.Duplicates), so a change is
// stored at most once however often it is sent.
func (r *Replica) publish(ctx context.Context, id string, body []byte) (uint64, error) {
	if r.closed.Load() {
		return 0, gallery.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, r.cfg.PublishTimeout/3)
		ack, err := r.js.Publish(actx, r.subject, body, jetstream.WithMsgID(id), jetstream.WithExpectStream(r.stream))
		acancel()
		if err == nil {
			return ack.Sequence, nil
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			// Not transient: a retry is refused alike.
			return 0, fmt.Errorf("%w: the change is %d bytes: %v", ErrTooLarge, len(body), err)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-timeAfter(backoff(attempt, 50e6, 500e6)):
			continue
		}
		break
	}
	return 0, fmt.Errorf("%w: the change was not acknowledged by a quorum of the NATS cluster within %v (%v); the change is not acknowledged (if a NATS server stored it before losing its quorum, it is applied once when the quorum is back); retry when the cluster is back", ErrUnavailable, r.cfg.PublishTimeout, last)
}
