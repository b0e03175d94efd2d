// .npy and text array I/O.
#include "client/npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace otclient {
namespace {

// The value of `key` in the .npy header dict, e.g. 'descr': '<f8'.
std::string HeaderValue(const std::string& header, const std::string& key) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t start = header.find(':', k) + 1;
  while (start < header.size() && header[start] == ' ') ++start;
  size_t end = start;
  if (header[start] == '(') {
    end = header.find(')', start) + 1;
  } else {
    while (end < header.size() && header[end] != ',' && header[end] != '}')
      ++end;
  }
  return header.substr(start, end - start);
}

absl::StatusOr<RowMatrix> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a .npy file"));
  }
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint16_t len16;
    in.read(reinterpret_cast<char*>(&len16), 2);
    header_len = len16;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  const std::string descr = HeaderValue(header, "descr");
  const bool fortran =
      absl::StartsWith(HeaderValue(header, "fortran_order"), "True");
  std::string shape_text = HeaderValue(header, "shape");
  shape_text =
      std::string(absl::StripSuffix(absl::StripPrefix(shape_text, "("), ")"));
  std::vector<int64_t> shape;
  for (absl::string_view part :
       absl::StrSplit(shape_text, ',', absl::SkipWhitespace())) {
    int64_t s;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &s)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": bad shape ", shape_text));
    }
    shape.push_back(s);
  }
  if (shape.empty() || shape.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": only 1-D and 2-D arrays"));
  }
  const int64_t rows = shape[0], cols = shape.size() == 2 ? shape[1] : 1;
  const std::string type = std::string(absl::StripPrefix(
      absl::StripSuffix(absl::StripPrefix(descr, "'"), "'"), "<"));
  int width = 0;
  if (type == "f8" || type == "i8") width = 8;
  if (type == "f4" || type == "i4") width = 4;
  if (width == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": dtype ", descr, " not supported (use float64)"));
  }
  std::vector<char> raw(rows * cols * width);
  in.read(raw.data(), raw.size());
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated data"));
  std::vector<double> values(rows * cols);
  for (int64_t k = 0; k < rows * cols; ++k) {
    const char* p = raw.data() + k * width;
    if (type == "f8") {
      double v;
      std::memcpy(&v, p, 8);
      values[k] = v;
    }
    if (type == "f4") {
      float v;
      std::memcpy(&v, p, 4);
      values[k] = v;
    }
    if (type == "i8") {
      int64_t v;
      std::memcpy(&v, p, 8);
      values[k] = double(v);
    }
    if (type == "i4") {
      int32_t v;
      std::memcpy(&v, p, 4);
      values[k] = v;
    }
  }
  RowMatrix out(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out(i, j) = fortran ? values[j * rows + i] : values[i * cols + j];
  return out;
}

absl::StatusOr<RowMatrix> ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<std::vector<double>> rows;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<double> row;
    for (absl::string_view cell :
         absl::StrSplit(text, absl::ByAnyChar(", \t;"), absl::SkipEmpty())) {
      double v;
      if (!absl::SimpleAtod(cell, &v)) {
        if (rows.empty() && row.empty()) break;  // a header line
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", line_no, ": not a number: ", cell));
      }
      row.push_back(v);
    }
    if (row.empty()) continue;
    if (!rows.empty() && row.size() != rows[0].size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": ", row.size(),
                       " columns, expected ", rows[0].size()));
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  RowMatrix out(rows.size(), rows[0].size());
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[0].size(); ++j) out(i, j) = rows[i][j];
  if (out.rows() == 1) return RowMatrix(out.transpose());  // one row = a vector
  return out;
}

}  // namespace

absl::StatusOr<RowMatrix> ReadArray(const std::string& path) {
  if (absl::EndsWith(path, ".npy")) return ReadNpy(path);
  return ReadText(path);
}

absl::Status WriteNpy(const std::string& path, const RowMatrix& array) {
  std::string header =
      absl::StrCat("{'descr': '<f8', 'fortran_order': False, 'shape': (",
                   array.rows(), ", ", array.cols(), "), }");
  // Pad so that magic (6) + version (2) + length (2) + header + '\n' is a
  // multiple of 64.
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out.write(header.data(), header.size());
  out.write(reinterpret_cast<const char*>(array.data()),
            array.size() * sizeof(double));
  if (!out) return absl::DataLossError(absl::StrCat("write failed: ", path));
  return absl::OkStatus();
}

}  // namespace otclient
