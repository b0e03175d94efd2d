// Reading and writing arrays for otctl: NumPy .npy (v1-v3, little-endian
// float64 / float32 / int64 / int32, C or Fortran order) and plain CSV /
// whitespace text. Thread-compatible; pure functions over files.
#ifndef OTSERVE_CLIENT_NPY_H_
#define OTSERVE_CLIENT_NPY_H_

#include <string>

#include "absl/status/statusor.h"
#include "client/client.h"

namespace otclient {

// Reads a 1-D or 2-D array; the format is chosen by the extension (.npy, else
// text). A 1-D array or a single text row becomes a column [n, 1].
absl::StatusOr<RowMatrix> ReadArray(const std::string& path);

// Writes a 2-D float64 .npy file.
absl::Status WriteNpy(const std::string& path, const RowMatrix& array);

}  // namespace otclient

#endif  // OTSERVE_CLIENT_NPY_H_
