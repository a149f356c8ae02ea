#pragma once
// Reader for the golden files that tests/golden/*.py write with PyTorch. The format is plain text
// so that the tests need nothing but the standard library to read it:
//   tensor <name> <ndim> <dim0> ... <dimN-1>
//   <all values, row-major (PyTorch's order), printed with 17 significant digits>
// Blank lines and lines starting with '#' are ignored. Scalars have ndim 0 and one value.

#include <cstddef>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpt_test {

struct GoldenTensor {
  std::vector<std::size_t> shape;
  std::vector<double> values;  // row-major, as PyTorch stores it
  [[nodiscard]] std::size_t size() const { return values.size(); }
};

class Golden {
 public:
  explicit Golden(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("golden: cannot open " + path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream header(line);
      std::string word, name;
      std::size_t ndim = 0;
      header >> word >> name >> ndim;
      if (word != "tensor")
        throw std::runtime_error("golden: bad header line in " + path + ": " + line);
      GoldenTensor tensor;
      std::size_t count = 1;
      for (std::size_t i = 0; i < ndim; ++i) {
        std::size_t dim = 0;
        header >> dim;
        tensor.shape.push_back(dim);
        count *= dim;
      }
      tensor.values.resize(count);
      for (auto& value : tensor.values)
        if (!(in >> value)) throw std::runtime_error("golden: too few values for " + name);
      tensors_[name] = std::move(tensor);
    }
  }
  [[nodiscard]] const GoldenTensor& operator[](const std::string& name) const {
    auto found = tensors_.find(name);
    if (found == tensors_.end()) throw std::out_of_range("golden: no tensor named " + name);
    return found->second;
  }
  [[nodiscard]] bool contains(const std::string& name) const { return tensors_.count(name) != 0; }

 private:
  std::map<std::string, GoldenTensor> tensors_;
};

}  // namespace hpt_test
