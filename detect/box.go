package detect

import (
	"errors"
	"fmt"
)

// Errors returned by this package; they are wrapped with %w.
var (
	// ErrOutput means the model outputs have a shape or form the detector
	// does not understand.
	ErrOutput = errors.New("detect: unexpected model outputs")
	// ErrInput means an argument (image, tensor, parameter) is invalid.
	ErrInput = errors.New("detect: bad input")
	// ErrModel means the model's declared inputs or outputs do not look
	// like a PicoDet mainbody detector.
	ErrModel = errors.New("detect: unsupported model")
)

// Box is one detection in original-image pixels (floats, not truncated).
type Box struct {
	X1, Y1, X2, Y2 float32
	// Score is the detection score (sigmoid of the class logit).
	Score float32
	// Class is the class id (0 = "foreground" for the mainbody detector).
	Class int
}

func (b Box) String() string {
	return fmt.Sprintf("{class %d score %g [%g %g %g %g]}", b.Class, b.Score, b.X1, b.Y1, b.X2, b.Y2)
}
