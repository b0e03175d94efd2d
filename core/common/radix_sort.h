// Stable LSD radix sort of doubles, optionally carrying a 64-bit payload (an
// index or a weight's bits): O(n) passes over contiguous memory instead of
// comparison sorts with random access. Pure functions; thread-compatible.
#ifndef OTSERVE_CORE_COMMON_RADIX_SORT_H_
#define OTSERVE_CORE_COMMON_RADIX_SORT_H_

#include <cstdint>
#include <vector>

namespace otcore {

// A key and what travels with it.
struct KeyedItem {
  double key;
  uint64_t payload;
};

// Sorts ascending by key, stable (equal keys keep their order; -0.0 sorts
// before +0.0). Keys must not be NaN.
void RadixSort(std::vector<double>* keys);
void RadixSort(std::vector<KeyedItem>* items);

}  // namespace otcore

#endif  // OTSERVE_CORE_COMMON_RADIX_SORT_H_
