// The one place the project includes Eigen. GCC 12 reports ~1,500 false
// -Wmaybe-uninitialized warnings from its own AVX-512 intrinsic headers when
// Eigen is built with -march=native (GCC PR 105593); they are silenced here,
// for the headers included below only, so that our own code still warns.
// Include this instead of <Eigen/...>. No state; thread-safe.
#ifndef OTSERVE_CORE_COMMON_EIGEN_H_
#define OTSERVE_CORE_COMMON_EIGEN_H_

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#define OTSERVE_GCC_PR105593 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>  // first, so its lines fall inside the pragma
#endif

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#ifdef OTSERVE_GCC_PR105593
#pragma GCC diagnostic pop
#undef OTSERVE_GCC_PR105593
#endif

#endif  // OTSERVE_CORE_COMMON_EIGEN_H_
