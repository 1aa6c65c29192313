package paddle_test

import (
	"fmt"
	"os"

	"github.com/shitu-go/shitu/paddle"
)

// Converting an official model folder: the rec model converts whole; the
// released detector is cut at its head outputs (AutoCut does it only when
// the post-processing does not convert).
func Example() {
	m, err := paddle.Load("picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(paddle.FormatInventory(m.OpInventory()))
	model, err := paddle.ToONNX(m, paddle.ConvertOptions{AutoCut: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = os.WriteFile("det.onnx", model, 0o644)
}
