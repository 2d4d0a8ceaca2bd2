// JwtAuth: verifies the bearer tokens of the HTTP API (claims `sub`, `role`, `exp`) with libjwt,
// signed either HS256 with a shared secret (internal callers) or ES256 by an issuer whose public
// keys are given as a JWK Set and picked by the token's `kid` (so that a verifier, the edge above
// all, never holds a key that can sign); plus minting for operators, the role check and the
// `Authorization` header parsing. Verification is fail-closed: anything but a well-formed token
// signed with a configured key of its own algorithm, unexpired, with a known role, is refused with
// a short reason. The clock is a parameter; nothing here throws.
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
#include <vector>

#include "core/result.h"

namespace stockgate::server {

// HS256 is only as strong as its key: RFC 7518 §3.2 asks for at least the hash size (256 bits).
inline constexpr std::size_t kMinJwtSecretBytes = 32;
// Larger tokens are refused before any parsing; ours are ~200 bytes.
inline constexpr std::size_t kMaxJwtBytes = 8 * 1024;
// `sub` is the actor of every ledger event the caller causes; the history keeps up to this many.
inline constexpr std::size_t kMaxSubjectBytes = 255;

// The four roles of the API. They are not a numeric scale: use Allows(), never `<`.
enum class Role { kViewer, kService, kAdmin, kBuyer };

// Whether a token holding `held` may call a route that requires `required`:
// admin may do everything; service may do reservation calls and everything a viewer may;
// viewer may only read (history, summaries); buyer may call only the routes that require buyer
// (what a customer does for itself, and which service and admin may do for anyone).
bool Allows(Role held, Role required);
// Wire name: "viewer", "service", "admin", "buyer".
std::string_view RoleName(Role role);
// Inverse of RoleName (exact, case-sensitive); nullopt for anything else.
std::optional<Role> RoleFromName(std::string_view name);

struct Claims {
  std::string sub;
  Role role = Role::kViewer;
  std::int64_t exp = 0;  // seconds since the Unix epoch
};

// The claims of a valid token, or kUnauthenticated with a short reason ("token expired") that is
// safe to show to the client.
using VerifyResult = core::Result<Claims>;

// The token of an `Authorization` header value: scheme "Bearer" in any case, then one or more
// spaces or tabs, then one token without whitespace; surrounding whitespace is ignored.
// nullopt when the header has another scheme, no token, or more than one word after the scheme.
std::optional<std::string_view> BearerToken(std::string_view authorization);

// An ES256 verification key: the issuer's P-256 public key, as PEM, and its key id.
struct PublicKey {
  std::string kid;
  std::string pem;
};

// The ES256 keys of a JWK Set (RFC 7517), e.g. `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
// "x":"...","y":"..."}]}`. Every key must be an EC P-256 public key with a unique non-empty kid
// (`use`, when given, "sig"; `alg`, when given, "ES256"); a key holding its private part (`d`) is
// refused, so that a verifier's configuration can never sign. Fails (kInvalidRequest) naming the
// key at fault when not so.
core::Result<std::vector<PublicKey>> ParseJwks(std::string_view text);

// What tokens are verified with: an HS256 secret ("" for none) and ES256 public keys by kid.
struct VerificationKeys {
  std::string hs256_secret;
  std::vector<PublicKey> es256;
};

class JwtAuth {
 public:
  // HS256 only. A weak secret (see SecretIsStrong) makes every Verify fail and every Mint
  // return "": the origin checks the secret at startup, this is the last line if it did not.
  explicit JwtAuth(std::string secret);
  // HS256 with keys.hs256_secret when it is strong (HS256 tokens are refused otherwise), and
  // ES256 with keys.es256: a token's `kid` picks its key; a token without `kid` is accepted only
  // when there is exactly one ES256 key.
  explicit JwtAuth(VerificationKeys keys);

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

  // An HS256 token carrying exactly these claims. Fails (kInvalidRequest) when Verify would
  // refuse them whatever the time (empty sub or one with control characters) or the secret is
  // weak.
  core::Result<std::string> Mint(const Claims& claims) const;

  // An ES256 token carrying these claims, signed with a P-256 private key (PEM, PKCS#8 or SEC1)
  // and naming `kid`: what an issuer does; verifiers need only the public key. Fails
  // (kInvalidRequest) when the key is not a P-256 private key or the claims are invalid.
  static core::Result<std::string> MintEs256(const Claims& claims, std::string_view private_key_pem,
                                             std::string_view kid);

  // The public JWK (one key of a JWK Set, as JSON text) of a P-256 private key, named `kid`:
  // what an issuer publishes for its verifiers. Fails as MintEs256 does.
  static core::Result<std::string> PublicJwk(std::string_view private_key_pem,
                                             std::string_view kid);

 private:
  VerifyResult VerifyUncached(std::string_view token, std::int64_t now_s) const;

  // Hashes string_views, so that a lookup needs no copy of the token.
  struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  VerificationKeys keys_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, Claims, TokenHash, std::equal_to<>> verified_;
};

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_JWT_AUTH_H_
