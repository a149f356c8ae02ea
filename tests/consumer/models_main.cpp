// The optional component hpt::models (Eigen) as a user links it. See CMakeLists.txt.
#include <cstdio>

#include <hpt/linalg/tensor_view.hpp>

int main() {
  hpt::models::Matrix<double> weight(2, 3);
  hpt::models::Matrix<double> gradient = hpt::models::Matrix<double>::Zero(2, 3);
  weight << 1, 2, 3, 4, 5, 6;
  const auto view = hpt::models::view_of("weight", weight, gradient);
  const auto shape = view.shape();
  if (view.size() != 6 || shape.size() != 2 || shape[0] != 2 || shape[1] != 3 ||
      view.values()(1, 2) != 6.0 || view.gradients().sum() != 0.0) {
    std::fprintf(stderr, "FAILED: hpt::models::view_of\n");
    return 1;
  }
  std::printf("hpt models consumer: ok\n");
  return 0;
}
