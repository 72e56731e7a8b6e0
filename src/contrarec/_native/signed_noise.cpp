// SimGCL's signed uniform noise in one parallel pass (contrarec/views/embedding_noise.py).
//
// Delta = eps * sign(e) * r / ||r||_2, r ~ U(0, 1)^D per row, on the grid (j + 0.5) / 65536 as in
// uniform_16bit. The pure-torch path spends ~80% of its time drawing r from the Mersenne Twister and taking
// its 16-bit lanes apart, and passes over the [R, D] table five more times. Here r comes from a counter-based
// generator (the SplitMix64 stream of the seed, indexed by position; four 16-bit lanes a draw), so rows are drawn independently and
// in parallel, the same for any thread count, and each row is finished while it is in registers.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;  // SplitMix64's increment

// SplitMix64's output function of state x + gamma (Steele, Lea & Flood, OOPSLA 2014). Draw n of the stream
// that starts at state s is splitmix64(s + n * gamma): any draw is computed directly from its position.
inline uint64_t splitmix64(uint64_t x) {
  x += kGamma;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// emb [R, D] float32 contiguous; returns Delta [R, D].
at::Tensor signed_noise(const at::Tensor& emb, double eps, int64_t seed) {
  TORCH_CHECK(emb.dim() == 2 && emb.scalar_type() == at::kFloat && emb.is_contiguous() && emb.device().is_cpu(),
              "emb must be a contiguous [R, D] float32 CPU tensor");
  TORCH_CHECK(eps >= 0, "eps must be >= 0, got ", eps);
  const int64_t rows = emb.size(0), dim = emb.size(1), draws_per_row = (dim + 3) / 4;
  auto delta = at::empty({rows, dim}, emb.options());
  const float* src = emb.data_ptr<float>();
  float* out = delta.data_ptr<float>();
  const uint64_t base = splitmix64(static_cast<uint64_t>(seed));
  at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
    std::vector<float> r(4 * draws_per_row);
    for (int64_t row = begin; row < end; ++row) {
      float sum_sq = 0.f;
      for (int64_t draw = 0; draw < draws_per_row; ++draw) {
        const uint64_t bits = splitmix64(base + static_cast<uint64_t>(row * draws_per_row + draw) * kGamma);
        for (int lane = 0; lane < 4; ++lane) {
          const float u = (static_cast<float>((bits >> (16 * lane)) & 0xFFFF) + 0.5f) * (1.0f / 65536.0f);
          r[4 * draw + lane] = u;
        }
      }
      for (int64_t d = 0; d < dim; ++d) sum_sq += r[d] * r[d];
      const float scale = static_cast<float>(eps) / std::sqrt(sum_sq);
      const float* e = src + row * dim;
      float* o = out + row * dim;
      for (int64_t d = 0; d < dim; ++d) {
        const float sign = static_cast<float>((e[d] > 0.f) - (e[d] < 0.f));
        o[d] = r[d] * scale * sign;
      }
    }
  });
  return delta;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(contrarec, m) { m.def("signed_noise(Tensor emb, float eps, int seed) -> Tensor"); }

TORCH_LIBRARY_IMPL(contrarec, CPU, m) { m.impl("signed_noise", signed_noise); }
