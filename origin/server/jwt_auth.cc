#include "origin/server/jwt_auth.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace stockgate::server {
namespace {

using nlohmann::json;

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

struct MallocFree {
  void operator()(char* p) const { std::free(p); }
};

core::Error Fail(std::string error) {
  return core::Fail(core::Code::kUnauthenticated, std::move(error));
}

constexpr const char* kInvalidClaims = "invalid claims (sub must be 1 to 255 printable bytes)";

core::Error Invalid(std::string why) {
  return core::Fail(core::Code::kInvalidRequest, std::move(why));
}

// Base64url sextet of `c`, or -1.
int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// Strict unpadded base64url (RFC 7515 §2). libjwt 1.10's decoder ignores trailing garbage, so a
// token is checked here first; only the canonical encoding is accepted (unused bits zero), which
// keeps one payload text per claim set.
std::optional<std::string> DecodeBase64Url(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const int v = Sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
    }
  }
  if ((acc & ((1u << bits) - 1u)) != 0) return std::nullopt;
  return out;
}

// A JSON object from a base64url segment; nullopt for anything else.
std::optional<json> DecodeObject(std::string_view segment) {
  const std::optional<std::string> text = DecodeBase64Url(segment);
  if (!text) return std::nullopt;
  json j = json::parse(text->begin(), text->end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// Whether libjwt's JSON parser (jansson) reads `value` as we do: it refuses integers beyond int64
// and non-finite numbers, and a payload the two parsers disagree on is not one we can verify.
bool RepresentableInJansson(const json& value) {
  if (value.is_number_unsigned()) {
    return value.get<std::uint64_t>() <=
           static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  }
  if (value.is_number_float()) return std::isfinite(value.get<double>());
  if (value.is_structured()) {
    for (const json& item : value) {
      if (!RepresentableInJansson(item)) return false;
    }
  }
  return true;
}

// An integer claim as int64; nullopt when absent is reported separately by the caller.
std::optional<std::int64_t> IntegerClaim(const json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// `sub` becomes a rate-limit key, a log field and the actor in the history: non-empty, at most
// kMaxSubjectBytes, no control characters.
bool ValidSubject(std::string_view sub) {
  if (sub.empty() || sub.size() > kMaxSubjectBytes) return false;
  for (const char c : sub) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return true;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// Whether `key` is an EC key on P-256.
bool IsP256(EVP_PKEY* key) {
  char group[64] = {};
  std::size_t len = 0;
  return EVP_PKEY_is_a(key, "EC") == 1 &&
         EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        &len) == 1 &&
         std::string_view(group, len) == "prime256v1";
}

// The PEM (SubjectPublicKeyInfo) of the P-256 point (x, y); nullopt when it is not on the curve.
std::optional<std::string> P256PublicPem(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return std::nullopt;
  const std::string point = '\x04' + x + y;
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(),
                                                                        OSSL_PARAM_BLD_free);
  if (!build ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return std::nullopt;
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(
      OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return std::nullopt;
  }
  const PkeyPtr key(raw);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), EVP_PKEY_CTX_free);
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return std::nullopt;
  const BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) return std::nullopt;
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0) return std::nullopt;
  return std::string(data, static_cast<std::size_t>(size));
}

// A string member of a JWK, or nullopt (absent or not a string).
std::optional<std::string> Member(const json& key, const char* name) {
  const auto it = key.find(name);
  if (it == key.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

core::Result<std::vector<PublicKey>> ParseJwks(std::string_view text) {
  const json set = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  const auto keys = set.is_object() ? set.find("keys") : set.end();
  if (keys == set.end() || !keys->is_array() || keys->empty()) {
    return Invalid("not a JWK Set: expected {\"keys\": [ ... ]} with at least one key");
  }
  std::vector<PublicKey> out;
  std::set<std::string> kids;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const json& key = (*keys)[i];
    const std::string where = "key " + std::to_string(i);
    if (!key.is_object()) {
      return Invalid(where + ": not an object");
    }
    const std::optional<std::string> kid = Member(key, "kid");
    if (!kid || kid->empty() || !ValidSubject(*kid)) {
      return Invalid(where + ": needs a kid (the tokens it verifies name it)");
    }
    const std::string named = where + " (kid " + *kid + ")";
    if (key.contains("d")) {
      return Invalid(named + " holds a private key: give verifiers the public key only");
    }
    if (Member(key, "kty") != "EC" || Member(key, "crv") != "P-256") {
      return Invalid(named + ": only EC P-256 keys (ES256) are supported");
    }
    if ((key.contains("alg") && Member(key, "alg") != "ES256") ||
        (key.contains("use") && Member(key, "use") != "sig")) {
      return Invalid(named + ": alg must be ES256 and use sig");
    }
    const std::optional<std::string> x = Member(key, "x");
    const std::optional<std::string> y = Member(key, "y");
    const std::optional<std::string> x_bytes = x ? DecodeBase64Url(*x) : std::nullopt;
    const std::optional<std::string> y_bytes = y ? DecodeBase64Url(*y) : std::nullopt;
    const std::optional<std::string> pem =
        x_bytes && y_bytes ? P256PublicPem(*x_bytes, *y_bytes) : std::nullopt;
    if (!pem) {
      return Invalid(named + ": x and y are not a point of P-256");
    }
    if (!kids.insert(*kid).second) {
      return Invalid(named + ": kid used twice");
    }
    out.push_back({*kid, *pem});
  }
  return out;
}

bool Allows(Role held, Role required) {
  switch (held) {
    case Role::kAdmin:
      return true;
    case Role::kService:
      return required == Role::kService || required == Role::kViewer || required == Role::kBuyer;
    case Role::kViewer:
      return required == Role::kViewer;
    case Role::kBuyer:
      return required == Role::kBuyer;
  }
  return false;
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kService:
      return "service";
    case Role::kAdmin:
      return "admin";
    case Role::kBuyer:
      return "buyer";
  }
  return "unknown";
}

std::optional<Role> RoleFromName(std::string_view name) {
  for (const Role role : {Role::kViewer, Role::kService, Role::kAdmin, Role::kBuyer}) {
    if (RoleName(role) == name) return role;
  }
  return std::nullopt;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  std::size_t i = 0;
  while (i < authorization.size() && IsSpace(authorization[i])) ++i;
  if (authorization.size() - i <= kScheme.size() ||
      !EqualsIgnoreCase(authorization.substr(i, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  i += kScheme.size();
  // "Bearerxyz" is another scheme, not a token.
  if (!IsSpace(authorization[i])) return std::nullopt;
  while (i < authorization.size() && IsSpace(authorization[i])) ++i;
  std::size_t end = i;
  while (end < authorization.size() && !IsSpace(authorization[end])) ++end;
  const std::string_view token = authorization.substr(i, end - i);
  for (std::size_t j = end; j < authorization.size(); ++j) {
    if (!IsSpace(authorization[j])) return std::nullopt;
  }
  if (token.empty()) return std::nullopt;
  return token;
}

JwtAuth::JwtAuth(std::string secret) : keys_{.hs256_secret = std::move(secret), .es256 = {}} {}

JwtAuth::JwtAuth(VerificationKeys keys) : keys_(std::move(keys)) {}

VerifyResult JwtAuth::Verify(std::string_view token, std::int64_t now_s) const {
  {
    std::lock_guard lock(cache_mu_);
    if (const auto it = verified_.find(token); it != verified_.end()) {
      // Signature, header and claims were checked when it was stored, nbf against a time no
      // later than now; only the expiry moves.
      if (it->second.exp <= now_s) return Fail("token expired");
      return it->second;
    }
  }
  VerifyResult result = VerifyUncached(token, now_s);
  if (result.ok()) {
    std::lock_guard lock(cache_mu_);
    if (verified_.size() >= kCachedTokens) verified_.erase(verified_.begin());
    verified_.emplace(std::string(token), *result);
  }
  return result;
}

VerifyResult JwtAuth::VerifyUncached(std::string_view token, std::int64_t now_s) const {
  if (!SecretIsStrong(keys_.hs256_secret) && keys_.es256.empty()) {
    return Fail("server keys not configured");
  }
  if (token.size() > kMaxJwtBytes) return Fail("token too large");

  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Fail("malformed token");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  const std::optional<json> header = DecodeObject(header_b64);
  if (!header) return Fail("malformed token");
  // The algorithm is pinned before any key is used, and each key verifies its own algorithm
  // only: "none" and algorithm confusion (HS256 with a public key as the "secret", HS512)
  // never reach the signature check.
  const auto alg = header->find("alg");
  const std::string alg_name =
      alg != header->end() && alg->is_string() ? alg->get<std::string>() : std::string();
  std::string_view key;
  jwt_alg_t expected = JWT_ALG_NONE;
  if (alg_name == "HS256" && SecretIsStrong(keys_.hs256_secret)) {
    key = keys_.hs256_secret;
    expected = JWT_ALG_HS256;
  } else if (alg_name == "ES256" && !keys_.es256.empty()) {
    const auto kid = header->find("kid");
    if (kid != header->end()) {
      if (!kid->is_string()) return Fail("unknown key id");
      for (const PublicKey& k : keys_.es256) {
        if (k.kid == kid->get<std::string>()) key = k.pem;
      }
      if (key.empty()) return Fail("unknown key id");
    } else if (keys_.es256.size() == 1) {
      key = keys_.es256.front().pem;
    } else {
      return Fail("missing key id");
    }
    expected = JWT_ALG_ES256;
  } else {
    return Fail("unsupported algorithm");
  }
  if (const auto typ = header->find("typ");
      typ != header->end() &&
      (!typ->is_string() || !EqualsIgnoreCase(typ->get<std::string>(), "JWT"))) {
    return Fail("unsupported token type");
  }
  // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
  if (header->contains("crit")) return Fail("unsupported critical header");

  const std::optional<json> payload = DecodeObject(payload_b64);
  if (!payload || !RepresentableInJansson(*payload)) return Fail("malformed token");
  if (signature_b64.empty() || !DecodeBase64Url(signature_b64)) return Fail("bad signature");

  // libjwt checks the HMAC (constant time since Debian's fix for CVE-2024-25189) or the ECDSA
  // signature (JWS form, r and s of 32 bytes each).
  const std::string token_z(token);
  jwt_t* raw = nullptr;
  const int rc =
      jwt_decode(&raw, token_z.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                 static_cast<int>(key.size()));
  const JwtPtr decoded(raw);
  if (rc != 0 || !decoded) return Fail("bad signature");
  if (jwt_get_alg(decoded.get()) != expected) return Fail("unsupported algorithm");

  // Claims are read from our own strict parse of the same, now authenticated, payload text:
  // libjwt's jwt_get_grant_int answers 0 for `"exp": "soon"` and `"exp": 1.5` alike.
  const auto exp = payload->find("exp");
  if (exp == payload->end()) return Fail("missing exp claim");
  const std::optional<std::int64_t> exp_s = IntegerClaim(*exp);
  if (!exp_s) return Fail("invalid exp claim");
  if (*exp_s <= now_s) return Fail("token expired");
  if (const auto nbf = payload->find("nbf"); nbf != payload->end()) {
    const std::optional<std::int64_t> nbf_s = IntegerClaim(*nbf);
    if (!nbf_s) return Fail("invalid nbf claim");
    if (*nbf_s > now_s) return Fail("token not yet valid");
  }
  const auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string() || sub->get<std::string>().empty()) {
    return Fail("missing sub claim");
  }
  if (!ValidSubject(sub->get<std::string>())) return Fail("invalid sub claim");
  const auto role = payload->find("role");
  if (role == payload->end()) return Fail("missing role claim");
  const std::optional<Role> parsed_role =
      role->is_string() ? RoleFromName(role->get<std::string>()) : std::nullopt;
  if (!parsed_role) return Fail("unknown role");

  Claims claims;
  claims.sub = sub->get<std::string>();
  claims.role = *parsed_role;
  claims.exp = *exp_s;
  return claims;
}

namespace {

// A token with the claims, signed by libjwt with `alg` and `key`, naming `kid` unless empty.
std::string Sign(const Claims& claims, jwt_alg_t alg, std::string_view key, std::string_view kid) {
  if (!ValidSubject(claims.sub)) return {};
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) return {};
  const JwtPtr jwt(raw);
  const std::string role(RoleName(claims.role));
  if (jwt_add_grant(jwt.get(), "sub", claims.sub.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "role", role.c_str()) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(claims.exp)) != 0 ||
      (!kid.empty() && jwt_add_header(jwt.get(), "kid", std::string(kid).c_str()) != 0) ||
      jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0) {
    return {};
  }
  const std::unique_ptr<char, MallocFree> encoded(jwt_encode_str(jwt.get()));
  if (!encoded) return {};
  return std::string(encoded.get());
}

}  // namespace

core::Result<std::string> JwtAuth::Mint(const Claims& claims) const {
  if (!SecretIsStrong(keys_.hs256_secret)) return Invalid("the HS256 secret is too weak to sign");
  std::string token = Sign(claims, JWT_ALG_HS256, keys_.hs256_secret, {});
  if (token.empty()) return Invalid(kInvalidClaims);
  return token;
}

namespace {

// The P-256 private key of a PEM text, checked with `kid`; never null when ok.
core::Result<PkeyPtr> IssuerKey(std::string_view private_key_pem, std::string_view kid) {
  const BioPtr bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || !IsP256(key.get())) {
    return Invalid("not a P-256 private key in PEM");
  }
  if (kid.empty() || !ValidSubject(kid)) {
    return Invalid("a kid is required (1 to 255 printable bytes)");
  }
  return key;
}

// Unpadded base64url.
std::string EncodeBase64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : bytes) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63u];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63u];
  return out;
}

}  // namespace

core::Result<std::string> JwtAuth::PublicJwk(std::string_view private_key_pem,
                                             std::string_view kid) {
  const core::Result<PkeyPtr> issuer = IssuerKey(private_key_pem, kid);
  if (!issuer) return issuer.failure();
  const PkeyPtr& key = *issuer;
  unsigned char point[65];
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                      &len) != 1 ||
      len != sizeof point || point[0] != 0x04) {
    return Invalid("cannot read the public point");
  }
  const std::string_view raw(reinterpret_cast<const char*>(point), len);
  return json{{"kty", "EC"},
              {"crv", "P-256"},
              {"kid", std::string(kid)},
              {"use", "sig"},
              {"alg", "ES256"},
              {"x", EncodeBase64Url(raw.substr(1, 32))},
              {"y", EncodeBase64Url(raw.substr(33, 32))}}
      .dump();
}

core::Result<std::string> JwtAuth::MintEs256(const Claims& claims, std::string_view private_key_pem,
                                             std::string_view kid) {
  if (const core::Result<PkeyPtr> issuer = IssuerKey(private_key_pem, kid); !issuer) {
    return issuer.failure();
  }
  std::string token = Sign(claims, JWT_ALG_ES256, private_key_pem, kid);
  if (token.empty()) return Invalid(kInvalidClaims);
  return token;
}

}  // namespace stockgate::server
