// Token file parsing and the per-call lookup.
#include "server/auth.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace otserve {

absl::StatusOr<TokenTable> ParseTokens(absl::string_view text) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto error = [line_number](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth tokens, line ", line_number, ": ", what));
    };
    if (parts.size() < 2 || parts.size() > 3) {
      return error("expected \"<token> <tenant> [weight]\"");
    }
    if (parts[0].size() < 16) return error("tokens must be >= 16 characters");
    Tenant tenant{std::string(parts[1]), 1};
    if (parts.size() == 3 && (!absl::SimpleAtoi(parts[2], &tenant.weight) ||
                              tenant.weight < 1 || tenant.weight > 100)) {
      return error("weight must be an integer in 1..100");
    }
    if (!table.emplace(std::string(parts[0]), std::move(tenant)).second) {
      return error("the token appears twice");
    }
  }
  return table;
}

absl::StatusOr<std::unique_ptr<TokenAuth>> TokenAuth::FromFile(
    const std::string& path) {
  auto auth = std::make_unique<TokenAuth>();
  auth->path_ = path;
  if (path.empty()) return auth;
  absl::StatusOr<size_t> loaded = auth->Reload();
  if (!loaded.ok()) return loaded.status();
  return auth;
}

absl::StatusOr<size_t> TokenAuth::Reload() {
  if (path_.empty()) return 0;
  std::ifstream in(path_);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path_));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<TokenTable> table = ParseTokens(text.str());
  if (!table.ok()) return table.status();
  const size_t size = table->size();
  auto shared = std::make_shared<const TokenTable>(*std::move(table));
  absl::MutexLock lock(&mu_);
  table_ = std::move(shared);
  return size;
}

absl::StatusOr<Tenant> TokenAuth::Authenticate(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  if (open()) return Tenant{std::string(kAnonymousTenant), 1};
  std::shared_ptr<const TokenTable> table;
  {
    absl::MutexLock lock(&mu_);
    table = table_;
  }
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "this server requires a token: send \"authorization: Bearer "
        "<token>\" metadata");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWithIgnoreCase(value, kBearer)) {
    return absl::UnauthenticatedError(
        "the authorization metadata must be \"Bearer <token>\"");
  }
  auto found = table->find(value.substr(kBearer.size()));
  if (found == table->end()) {
    return absl::UnauthenticatedError("the token is not valid");
  }
  return found->second;
}

}  // namespace otserve
