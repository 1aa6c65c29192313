package feature

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
)

// Fingerprint identifies the features a model and a preprocessing config
// produce: the sha256 of the model bytes followed by the effective
// preprocessing (size or resize_short, interpolation, scale, mean, std),
// as hex. Galleries are bound to it, so vectors from another model, or the
// same model fed differently, are never mixed. Batch size and workers do
// not change features and are not included.
func Fingerprint(model []byte, cfg Config) string {
	cfg = cfg.withDefaults()
	h := sha256.New()
	m := sha256.Sum256(model)
	h.Write(m[:])
	var b []byte
	if cfg.ResizeShort > 0 {
		b = binary.LittleEndian.AppendUint32(b, uint32(cfg.ResizeShort))
		b = append(b, 's')
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(cfg.Width))
		b = binary.LittleEndian.AppendUint32(b, uint32(cfg.Height))
	}
	in, _ := interpOf(cfg.Interp)
	b = append(b, byte(in))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(cfg.Scale))
	for i := range 3 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(cfg.Mean[i]))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(cfg.Std[i]))
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
