// LSD radix sort with 11-bit digits (6 passes, a 16 KB histogram per digit
// computed in one pre-pass); passes whose digit is constant are skipped, which
// removes most of them for data of limited range.
#include "core/common/radix_sort.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace otcore {
namespace {

constexpr int kDigitBits = 11;
constexpr int kPasses = 6;  // ceil(64 / 11)
constexpr uint64_t kDigitMask = (uint64_t{1} << kDigitBits) - 1;
constexpr size_t kBuckets = size_t{1} << kDigitBits;
// Below this size std::stable_sort is faster than six histogram passes.
constexpr size_t kSmall = 256;

// Order-preserving map of a double to an unsigned integer: flip all bits of
// negatives, only the sign bit of the others.
inline uint64_t OrderedBits(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u >> 63) ? ~u : (u | (uint64_t{1} << 63));
}

template <typename T, typename KeyOf>
void Sort(std::vector<T>* v, KeyOf key_of) {
  const size_t n = v->size();
  if (n < kSmall) {
    std::stable_sort(v->begin(), v->end(), [&](const T& x, const T& y) {
      return key_of(x) < key_of(y);
    });
    return;
  }
  std::vector<std::array<size_t, kBuckets>> counts(kPasses);
  for (auto& c : counts) c.fill(0);
  for (const T& item : *v) {
    const uint64_t k = key_of(item);
    for (int p = 0; p < kPasses; ++p) {
      ++counts[p][(k >> (p * kDigitBits)) & kDigitMask];
    }
  }
  std::vector<T> buffer(n);
  std::vector<T>* src = v;
  std::vector<T>* dst = &buffer;
  for (int p = 0; p < kPasses; ++p) {
    auto& c = counts[p];
    // A digit shared by every key does not reorder anything.
    if (std::any_of(c.begin(), c.end(), [n](size_t x) { return x == n; })) {
      continue;
    }
    size_t offset = 0;
    for (size_t& x : c) {
      const size_t count = x;
      x = offset;
      offset += count;
    }
    const int shift = p * kDigitBits;
    for (const T& item : *src) {
      (*dst)[c[(key_of(item) >> shift) & kDigitMask]++] = item;
    }
    std::swap(src, dst);
  }
  if (src != v) *v = std::move(*src);
}

}  // namespace

void RadixSort(std::vector<double>* keys) {
  // The ordered bits are recomputed per pass (a few integer operations)
  // instead of held: one scratch copy of the keys in all.
  Sort(keys, [](double v) { return OrderedBits(v); });
}

void RadixSort(std::vector<KeyedItem>* items) {
  Sort(items, [](const KeyedItem& item) { return OrderedBits(item.key); });
}

}  // namespace otcore
