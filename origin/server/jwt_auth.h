// JwtAuth: verifies and mints the HS256 bearer tokens of the HTTP API (claims `sub`, `role`,
// `exp`) with libjwt, plus the role check and the `Authorization` header parsing around it.
// Verification is fail-closed: anything but a well-formed, HS256-signed, unexpired token with a
// known role is refused with a short reason. The clock is a parameter; nothing here throws.
#ifndef STOCKGATE_ORIGIN_SERVER_JWT_AUTH_H_
#define STOCKGATE_ORIGIN_SERVER_JWT_AUTH_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace stockgate::server {

// HS256 is only as strong as its key: RFC 7518 §3.2 asks for at least the hash size (256 bits).
inline constexpr std::size_t kMinJwtSecretBytes = 32;
// Larger tokens are refused before any parsing; ours are ~200 bytes.
inline constexpr std::size_t kMaxJwtBytes = 8 * 1024;
// `sub` is the actor of every ledger event the caller causes; the history keeps up to this many.
inline constexpr std::size_t kMaxSubjectBytes = 255;

// The three roles of the API. They are not a numeric scale: use Allows(), never `<`.
enum class Role { kViewer, kService, kAdmin };

// Whether a token holding `held` may call a route that requires `required`:
// admin may do everything; service may do reservation calls and everything a viewer may;
// viewer may only read (history, summaries).
bool Allows(Role held, Role required);
// Wire name: "viewer", "service", "admin".
std::string_view RoleName(Role role);
// Inverse of RoleName (exact, case-sensitive); nullopt for anything else.
std::optional<Role> RoleFromName(std::string_view name);

struct Claims {
  std::string sub;
  Role role = Role::kViewer;
  std::int64_t exp = 0;  // seconds since the Unix epoch
};

struct VerifyResult {
  bool ok = false;
  Claims claims;      // meaningful only when ok
  std::string error;  // short reason when !ok, e.g. "token expired"; safe to show to the client
};

// The token of an `Authorization` header value: scheme "Bearer" in any case, then one or more
// spaces or tabs, then one token without whitespace; surrounding whitespace is ignored.
// nullopt when the header has another scheme, no token, or more than one word after the scheme.
std::optional<std::string_view> BearerToken(std::string_view authorization);

class JwtAuth {
 public:
  // A weak secret (see SecretIsStrong) makes every Verify fail and every Mint return "": the
  // origin checks the secret at startup, this is the last line if it did not.
  explicit JwtAuth(std::string secret);

  static bool SecretIsStrong(std::string_view secret) {
    return secret.size() >= kMinJwtSecretBytes;
  }

  // Checks a compact JWS (the bearer token, without "Bearer "). `now_s` is the current Unix time;
  // the token is expired when exp <= now_s. An `nbf` claim, when present, must be <= now_s.
  // A token that passed once is remembered (the exact text, up to kCachedTokens of them), so a
  // client that sends the same token with every request pays for its signature once; its expiry
  // is still checked every time.
  VerifyResult Verify(std::string_view token, std::int64_t now_s) const;
  static constexpr std::size_t kCachedTokens = 10'000;

  // An HS256 token carrying exactly these claims; "" when Verify would refuse them whatever the
  // time (empty sub or one with control characters) or the secret is weak.
  std::string Mint(const Claims& claims) const;

 private:
  VerifyResult VerifyUncached(std::string_view token, std::int64_t now_s) const;

  // Hashes string_views, so that a lookup needs no copy of the token.
  struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::string secret_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, Claims, TokenHash, std::equal_to<>> verified_;
};

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_JWT_AUTH_H_
