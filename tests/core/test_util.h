// Seeded random problems shared by the core tests. Not thread-safe (tests
// only).
#ifndef OTSERVE_TESTS_CORE_TEST_UTIL_H_
#define OTSERVE_TESTS_CORE_TEST_UTIL_H_

#include <random>

#include "core/common/types.h"

namespace otcore::testing {

inline RowMatrix RandomPoints(int n, int d, std::mt19937_64& rng,
                              double shift = 0.0) {
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrix x(n, d);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < d; ++k) x(i, k) = normal(rng) + shift;
  return x;
}

// Positive weights summing to one (or with `zeros` entries set to zero first).
inline Eigen::VectorXd RandomWeights(int n, std::mt19937_64& rng,
                                     int zeros = 0) {
  std::uniform_real_distribution<double> u(0.1, 1.0);
  Eigen::VectorXd w(n);
  for (int i = 0; i < n; ++i) w(i) = u(rng);
  for (int k = 0; k < zeros && k < n - 1; ++k) w(k * 2 % n) = 0.0;
  return w / w.sum();
}

inline Eigen::VectorXd Uniform(int n) {
  return Eigen::VectorXd::Constant(n, 1.0 / n);
}

}  // namespace otcore::testing

#endif  // OTSERVE_TESTS_CORE_TEST_UTIL_H_
