// The model the safetensors targets load into and the seed generator saves: one hidden layer,
// so a file has the four tensors layers.0.weight [4, 3], layers.0.bias [4], and the output
// layer's weight [2, 4] and bias [2].
#pragma once

#include <hpt/nn/mlp.hpp>

namespace hpt::fuzz {

template <class Scalar>
models::Mlp<Scalar> safetensors_model() {
  return models::Mlp<Scalar>(models::MlpShape{.inputs = 3, .hidden = {4}, .outputs = 2});
}

}  // namespace hpt::fuzz
