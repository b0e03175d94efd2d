// Bearer-token authentication: a table token -> tenant read from a file
// (`--auth_tokens`), swapped whole on Reload (SIGHUP). With no file the server
// runs open and every caller is the tenant "anonymous". Thread-safe:
// Authenticate may run on any thread while Reload swaps the table.
#ifndef OTSERVE_SERVER_AUTH_H_
#define OTSERVE_SERVER_AUTH_H_

#include <grpcpp/support/string_ref.h>

#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace otserve {

// Who a call is billed to, and its share of the workers against other
// tenants' (weighted round robin).
struct Tenant {
  std::string name;
  int weight = 1;
};

inline constexpr absl::string_view kAnonymousTenant = "anonymous";

using TokenTable = absl::flat_hash_map<std::string, Tenant>;

// Parses a token file: one "<token> <tenant> [weight]" per line; blank lines
// and lines starting with '#' are skipped. Tokens are >= 16 characters and
// unique, weights 1..100. Errors name the line.
absl::StatusOr<TokenTable> ParseTokens(absl::string_view text);

class TokenAuth {
 public:
  // Open (no tokens): every call is the anonymous tenant.
  TokenAuth() = default;
  // Reads `path` (ParseTokens); an empty path runs open.
  static absl::StatusOr<std::unique_ptr<TokenAuth>> FromFile(
      const std::string& path);

  bool open() const { return path_.empty(); }
  // Re-reads the file; on error the old table stays and the error is
  // returned. Returns the number of tokens.
  absl::StatusOr<size_t> Reload() ABSL_LOCKS_EXCLUDED(mu_);

  // The tenant of a call's "authorization: Bearer <token>" metadata;
  // UNAUTHENTICATED when it is missing or unknown (the message says which).
  absl::StatusOr<Tenant> Authenticate(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
};

}  // namespace otserve

#endif  // OTSERVE_SERVER_AUTH_H_
