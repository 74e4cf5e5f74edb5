package model

import "github.com/gomlx/gomlx/pkg/core/tensors"

func tensorOf(f []float32, dims []int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(f, dims...)
}
