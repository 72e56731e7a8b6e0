// Fused selection of the bf16 screen (contrarec/evaluate/screened.py), one pass per query row.
//
// The pure-torch path selects candidates with several whole-block ops (group maxima, topk on narrow
// arrays, gathers, a sort, a bmm) and takes longer than the bf16 GEMM itself. Here each query row
// is finished while it is in cache: training items set to -inf, group maxima over GROUP strided slabs,
// the C-th largest group maximum T by a histogram below the largest, the members >= T of the groups whose
// maximum reaches T, the C best of those (the candidates, ties to the lower id), their exact fp32 scores,
// the top k by (score desc, id asc), and the certificate of screened.py: proven when the k-th exact score
// beats the smallest candidate bound. Rows run in parallel on torch's intra-op pool (at::parallel_for):
// threads of our own would compete with that pool's workers, which spin after the GEMM.
//
// Why the C-th largest group maximum T is enough: the C groups with a maximum >= T hold C items >= T, so
// the C-th best item is >= T, and any item >= T lies in a group whose maximum is >= T.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

// The per-row loops vectorise; where the compiler can, build them for AVX2 too and pick at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CONTRAREC_WIDE_VECTORS __attribute__((target_clones("avx2", "default")))
#else
#define CONTRAREC_WIDE_VECTORS
#endif

namespace {

constexpr int64_t kGroup = 16;            // items per group (GROUP_SIZE in select.py)
constexpr uint16_t kNegInfBf16 = 0xFF80;  // bf16 -inf

// A monotone int16 key of a bf16 bit pattern: larger float, larger key (callers pass finite embeddings;
// a negative NaN would sort below -inf).
inline int16_t key16(uint16_t bits) {
  const int16_t s = static_cast<int16_t>(bits);
  return static_cast<int16_t>(s ^ ((s >> 15) & 0x7FFF));
}

inline float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float out;
  std::memcpy(&out, &wide, sizeof out);
  return out;
}

// The k-th largest (1-based) of n keys, by a histogram of the high byte, then of the low byte.
int16_t kth_largest_two_pass(const int16_t* keys, int64_t n, int64_t k) {
  int64_t hist[256];
  std::fill(hist, hist + 256, 0);
  for (int64_t i = 0; i < n; ++i) ++hist[static_cast<uint16_t>(keys[i] + 32768) >> 8];
  int high = 255;
  int64_t above = 0;
  while (above + hist[high] < k) above += hist[high--];
  std::fill(hist, hist + 256, 0);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t u = static_cast<uint16_t>(keys[i] + 32768);
    if ((u >> 8) == high) ++hist[u & 255];
  }
  int low = 255;
  while (above + hist[low] < k) above += hist[low--];
  return static_cast<int16_t>(((high << 8) | low) - 32768);
}

// The k-th largest (1-based) of n keys. Usually one pass: a histogram of the distance below the largest
// key, which holds the answer whenever it lies within 255 keys (two bf16 octaves) of the largest; four
// interleaved histograms keep consecutive increments of one bin from waiting on each other.
int16_t kth_largest(const int16_t* keys, int64_t n, int64_t k) {
  int16_t top = keys[0];
  for (int64_t i = 1; i < n; ++i) top = std::max(top, keys[i]);
  uint32_t hist[4][256];
  std::memset(hist, 0, sizeof hist);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int lane = 0; lane < 4; ++lane) {
      const int32_t below = top - keys[i + lane];
      if (below < 256) ++hist[lane][below];
    }
  for (; i < n; ++i) {
    const int32_t below = top - keys[i];
    if (below < 256) ++hist[0][below];
  }
  int64_t count = 0;
  for (int below = 0; below < 256; ++below) {
    count += hist[0][below] + hist[1][below] + hist[2][below] + hist[3][below];
    if (count >= k) return static_cast<int16_t>(top - below);
  }
  return kth_largest_two_pass(keys, n, k);
}

struct RowScratch {
  std::vector<int16_t> group_max;   // [G]
  std::vector<int64_t> chosen;      // [G]
  std::vector<int64_t> packed;      // members >= T: (key + 32768) << 32 | (INT32_MAX - id)
  std::vector<std::pair<float, int64_t>> exact;  // [C] (score, id)
};

CONTRAREC_WIDE_VECTORS
void finish_row(uint16_t* row, int64_t groups, int64_t num_items, int64_t candidates, int64_t k,
                const float* query, const float* items, int64_t dim, const int64_t* excluded,
                int64_t num_excluded, RowScratch& scratch, float* out_scores, int64_t* out_ids,
                bool* out_proven) {
  const int64_t width = groups * kGroup;
  for (int64_t e = 0; e < num_excluded; ++e) row[excluded[e]] = kNegInfBf16;
  for (int64_t j = num_items; j < width; ++j) row[j] = kNegInfBf16;
  int16_t* group_max = scratch.group_max.data();
  for (int64_t g = 0; g < groups; ++g) group_max[g] = key16(row[g]);
  for (int64_t s = 1; s < kGroup; ++s) {
    const uint16_t* slab = row + s * groups;
    for (int64_t g = 0; g < groups; ++g) group_max[g] = std::max(group_max[g], key16(slab[g]));
  }
  const int16_t threshold = kth_largest(group_max, groups, candidates);
  int64_t* chosen = scratch.chosen.data();   // groups whose maximum reaches the threshold (>= C of them)
  int64_t num_chosen = 0;
  for (int64_t g = 0; g < groups; ++g) {
    chosen[num_chosen] = g;
    num_chosen += group_max[g] >= threshold;
  }
  std::vector<int64_t>& packed = scratch.packed;
  packed.clear();
  for (int64_t c = 0; c < num_chosen; ++c) {
    for (int64_t s = 0; s < kGroup; ++s) {
      const int64_t j = s * groups + chosen[c];
      const int16_t key = key16(row[j]);
      if (key >= threshold) packed.push_back((static_cast<int64_t>(key + 32768) << 32) | (INT32_MAX - j));
    }
  }
  std::nth_element(packed.begin(), packed.begin() + (candidates - 1), packed.end(), std::greater<int64_t>());
  for (int64_t c = 0; c < candidates; ++c) {  // the item rows are read below: fetch them all at once
    const float* item = items + (INT32_MAX - (packed[c] & 0xFFFFFFFF)) * dim;
    for (int64_t d = 0; d < dim; d += 16) __builtin_prefetch(item + d);
  }
  float smallest_bound = std::numeric_limits<float>::infinity();
  bool doubtful = false;
  for (int64_t c = 0; c < candidates; ++c) {
    const int64_t j = INT32_MAX - (packed[c] & 0xFFFFFFFF);
    const float bound = bf16_to_float(row[j]);
    doubtful |= std::isnan(bound);
    smallest_bound = std::min(smallest_bound, bound);
    float score = -std::numeric_limits<float>::infinity();
    if (bound != -std::numeric_limits<float>::infinity()) {  // excluded and padding items stay out
      const float* item = items + j * dim;
      float lanes[4] = {0.f, 0.f, 0.f, 0.f};
      int64_t d = 0;
      for (; d + 4 <= dim; d += 4)
        for (int l = 0; l < 4; ++l) lanes[l] += query[d + l] * item[d + l];
      for (; d < dim; ++d) lanes[0] += query[d] * item[d];
      score = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
      doubtful |= std::isnan(score);
    }
    scratch.exact[c] = {score, j};
  }
  auto better = [](const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::partial_sort(scratch.exact.begin(), scratch.exact.begin() + k, scratch.exact.end(), better);
  for (int64_t c = 0; c < k; ++c) {
    out_scores[c] = scratch.exact[c].first;
    out_ids[c] = scratch.exact[c].second;
  }
  *out_proven = !doubtful && scratch.exact[k - 1].first > smallest_bound;
}

// screen [b, G*16] bf16 row-major (modified: excluded and padding items become -inf); query [b, D] and
// items [>= N, D] fp32; indptr [b + 1] and indices int64, the excluded items of each row (CSR).
// Returns (scores [b, k] fp32, ids [b, k] int64, proven [b] bool).
std::tuple<at::Tensor, at::Tensor, at::Tensor> screen_topk(at::Tensor screen, int64_t num_items,
                                                           int64_t candidates, int64_t k, at::Tensor query,
                                                           at::Tensor items, at::Tensor indptr,
                                                           at::Tensor indices) {
  TORCH_CHECK(screen.dim() == 2 && screen.scalar_type() == at::kBFloat16 && screen.stride(1) == 1,
              "screen must be a row-major [b, W] bfloat16 tensor");
  TORCH_CHECK(screen.size(1) % kGroup == 0, "screen width must be a multiple of ", kGroup);
  TORCH_CHECK(screen.size(1) < INT32_MAX, "screen width must be below 2^31 (ids are packed into 32 bits)");
  const int64_t rows = screen.size(0), groups = screen.size(1) / kGroup;
  TORCH_CHECK(1 <= k && k <= candidates && candidates <= num_items && candidates <= groups &&
                  num_items <= screen.size(1),
              "need 1 <= k <= candidates <= min(num_items, width / 16), num_items <= width");
  TORCH_CHECK(query.dim() == 2 && query.size(0) == rows && query.is_contiguous() &&
                  query.scalar_type() == at::kFloat,
              "query must be a contiguous [b, D] float32 tensor");
  TORCH_CHECK(items.dim() == 2 && items.size(0) >= num_items && items.size(1) == query.size(1) &&
                  items.is_contiguous() && items.scalar_type() == at::kFloat,
              "items must be a contiguous [N, D] float32 tensor");
  TORCH_CHECK(indptr.dim() == 1 && indptr.size(0) == rows + 1 && indptr.is_contiguous() &&
                  indptr.scalar_type() == at::kLong && indices.is_contiguous() &&
                  indices.scalar_type() == at::kLong,
              "indptr [b + 1] and indices must be contiguous int64 tensors");
  auto scores = at::empty({rows, k}, query.options());
  auto ids = at::empty({rows, k}, query.options().dtype(at::kLong));
  auto proven = at::empty({rows}, query.options().dtype(at::kBool));
  auto* screen_data = reinterpret_cast<uint16_t*>(screen.data_ptr<at::BFloat16>());
  const int64_t row_stride = screen.stride(0), dim = query.size(1);
  const float* query_data = query.data_ptr<float>();
  const float* item_data = items.data_ptr<float>();
  const int64_t* indptr_data = indptr.data_ptr<int64_t>();
  const int64_t* index_data = indices.data_ptr<int64_t>();
  float* score_data = scores.data_ptr<float>();
  int64_t* id_data = ids.data_ptr<int64_t>();
  bool* proven_data = proven.data_ptr<bool>();
  TORCH_CHECK(indptr_data[0] >= 0, "indptr must start at >= 0");
  for (int64_t r = 0; r < rows; ++r)
    TORCH_CHECK(indptr_data[r] <= indptr_data[r + 1] && indptr_data[r + 1] <= indices.size(0),
                "indptr must be non-decreasing and within indices");
  for (int64_t e = indptr_data[0]; e < indptr_data[rows]; ++e)
    TORCH_CHECK(0 <= index_data[e] && index_data[e] < num_items, "excluded item ", index_data[e],
                " outside [0, ", num_items, ")");
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    RowScratch scratch;
    scratch.group_max.resize(groups);
    scratch.chosen.resize(groups);
    scratch.packed.reserve(4 * candidates);
    scratch.exact.resize(candidates);
    for (int64_t r = begin; r < end; ++r) {
      finish_row(screen_data + r * row_stride, groups, num_items, candidates, k, query_data + r * dim,
                 item_data, dim, index_data + indptr_data[r], indptr_data[r + 1] - indptr_data[r], scratch,
                 score_data + r * k, id_data + r * k, proven_data + r);
    }
  });
  return std::make_tuple(scores, ids, proven);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(contrarec, m) {
  m.def("screen_topk(Tensor(a!) screen, int num_items, int candidates, int k, Tensor query, Tensor items, "
        "Tensor indptr, Tensor indices) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(contrarec, CPU, m) { m.impl("screen_topk", screen_topk); }
