package shitu

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/replica"
	"github.com/shitu-go/shitu/imaging"
)

// OpenReplica joins the replicated gallery name (package gallery/replica)
// through JetStream js, keeps its local copy in dir, and registers it under
// name. A gallery new to the cluster is laid out as the config's
// IndexProcess says and bound to the system's model; one that exists must
// have been made with this model (replica.ErrModelMismatch). c sets the
// replication (Replicas, timeouts, snapshots, logger); its Name, Dir and
// Gallery are filled here. OpenReplica retries while JetStream cannot be
// reached, until ctx ends, and returns once the replica caught up with the
// stream (replica.Open). Edits through the system's Add, Remove and
// RemoveLabel (and AddTo, RemoveFrom, RemoveLabelFrom) then go through the
// cluster.
func (s *System) OpenReplica(ctx context.Context, js jetstream.JetStream, name, dir string, c replica.Config) (*replica.Replica, error) {
	o, err := s.ip.Options(s.model)
	if err != nil {
		return nil, err
	}
	c.Name, c.Dir, c.Gallery = name, dir, o
	if c.Logger == nil {
		c.Logger = s.o.Logger
	}
	r, err := replica.Open(ctx, js, c)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		r.Close()
		return nil, ErrClosed
	}
	if _, ok := s.gals[name]; ok {
		r.Close()
		return nil, fmt.Errorf("%w: %q", ErrExists, name)
	}
	s.gals[name] = r.Gallery()
	if s.reps == nil {
		s.reps = map[*gallery.Gallery]*replica.Replica{}
	}
	s.reps[r.Gallery()] = r
	return r, nil
}

// Replica returns the replica behind a gallery, or nil when the gallery
// is not replicated.
func (s *System) Replica(g *gallery.Gallery) *replica.Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reps[g]
}

// Replicas lists the replicated galleries' replicas.
func (s *System) Replicas() []*replica.Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*replica.Replica, 0, len(s.reps))
	for _, r := range s.reps {
		out = append(out, r)
	}
	return out
}

// AddTo is Add on a gallery (registered or not): decode, hash, embed in one
// batch, then one durable change — through the cluster for a replicated
// gallery, which also keeps the image bytes in its object store. It
// returns the stored items and the gallery version that holds them.
func (s *System) AddTo(ctx context.Context, g *gallery.Gallery, imgs []gallery.NewImage, dec imaging.DecodeOptions) ([]gallery.Item, uint64, error) {
	r := s.Replica(g)
	if r == nil {
		items, err := g.AddImages(ctx, s.ext, imgs, dec)
		return items, g.Version(), err
	}
	items, err := gallery.EmbedImages(ctx, s.ext, imgs, dec)
	if err != nil || len(items) == 0 {
		return nil, r.Version(), err
	}
	raw := make([][]byte, len(imgs))
	for i := range imgs {
		raw[i] = imgs[i].Data
	}
	res, err := r.Add(ctx, items, raw)
	if err != nil {
		return nil, res.Version, err
	}
	if len(res.IDs) != len(items) {
		// A duplicate change, or one whose result this replica no longer
		// holds, reports no ids: the items' ids are unknown here.
		return nil, res.Version, fmt.Errorf("shitu: the change (version %d) reported %d item ids for %d items; list the gallery to find the stored items",
			res.Version, len(res.IDs), len(items))
	}
	for i := range items {
		items[i].ID, items[i].Vector = res.IDs[i], nil
	}
	return items, res.Version, nil
}

// RemoveFrom deletes items of a gallery by id; it returns how many existed
// and the gallery version after the change.
func (s *System) RemoveFrom(ctx context.Context, g *gallery.Gallery, ids ...int64) (int, uint64, error) {
	if r := s.Replica(g); r != nil {
		res, err := r.Remove(ctx, ids...)
		return res.Removed, res.Version, err
	}
	n, err := g.Remove(ids...)
	return n, g.Version(), err
}

// RemoveLabelFrom deletes every item of a label from a gallery.
func (s *System) RemoveLabelFrom(ctx context.Context, g *gallery.Gallery, label string) (int, uint64, error) {
	if r := s.Replica(g); r != nil {
		res, err := r.RemoveLabel(ctx, label)
		return res.Removed, res.Version, err
	}
	n, err := g.RemoveLabel(label)
	return n, g.Version(), err
}

// ErrVersion: a gallery has not reached the version a request asked for.
var ErrVersion = replica.ErrBehind

// WaitVersion waits, at most wait, until g reached version v (a replica
// applies the cluster's changes as they come); a gallery of this process
// alone has all its versions already. It fails with ErrVersion.
func (s *System) WaitVersion(ctx context.Context, g *gallery.Gallery, v uint64, wait time.Duration) error {
	if g.Version() >= v {
		return nil
	}
	r := s.Replica(g)
	if r == nil {
		return fmt.Errorf("%w: asked for version %d, the gallery is at %d", ErrVersion, v, g.Version())
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return r.WaitVersion(ctx, v)
}

// RelabelIn gives items of a gallery a new label, as one durable change
// (through the cluster for a replicated gallery); it returns how many
// items were relabelled and the gallery version after the change.
func (s *System) RelabelIn(ctx context.Context, g *gallery.Gallery, label string, ids ...int64) (int, uint64, error) {
	if r := s.Replica(g); r != nil {
		res, err := r.Relabel(ctx, label, ids...)
		return res.Removed, res.Version, err
	}
	done, err := g.Relabel(label, ids...)
	return len(done), g.Version(), err
}

// SetThresholdsIn stores acceptance thresholds with a gallery (global and
// per label, as calibration does), through the cluster for a replicated
// gallery; it returns the gallery version after the change. Recognitions
// that start afterwards use them.
func (s *System) SetThresholdsIn(ctx context.Context, g *gallery.Gallery, global float32, perLabel map[string]float32) (uint64, error) {
	if r := s.Replica(g); r != nil {
		res, err := r.SetThresholds(ctx, gallery.Thresholds{Global: global, PerLabel: perLabel})
		return res.Version, err
	}
	err := g.SetThresholds(global, perLabel)
	return g.Version(), err
}
