package eval

import (
	"math"
	"strconv"
)

// Metric is a float64 figure that encodes NaN and ±Inf as JSON null
// (PaddleClas yields NaN for metrics with no eligible query).
type Metric float64

// MarshalJSON writes the number, or null when it is not finite.
func (m Metric) MarshalJSON() ([]byte, error) {
	f := float64(m)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as NaN.
func (m *Metric) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = Metric(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*m = Metric(f)
	return nil
}
