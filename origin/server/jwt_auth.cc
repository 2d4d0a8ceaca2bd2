#include "origin/server/jwt_auth.h"

#include <jwt.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
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

VerifyResult Fail(std::string error) {
  VerifyResult r;
  r.error = std::move(error);
  return r;
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

}  // namespace

bool Allows(Role held, Role required) {
  switch (held) {
    case Role::kAdmin:
      return true;
    case Role::kService:
      return required == Role::kService || required == Role::kViewer;
    case Role::kViewer:
      return required == Role::kViewer;
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
  }
  return "unknown";
}

std::optional<Role> RoleFromName(std::string_view name) {
  for (const Role role : {Role::kViewer, Role::kService, Role::kAdmin}) {
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

JwtAuth::JwtAuth(std::string secret) : secret_(std::move(secret)) {}

VerifyResult JwtAuth::Verify(std::string_view token, std::int64_t now_s) const {
  {
    std::lock_guard lock(cache_mu_);
    if (const auto it = verified_.find(token); it != verified_.end()) {
      // Signature, header and claims were checked when it was stored, nbf against a time no
      // later than now; only the expiry moves.
      if (it->second.exp <= now_s) return Fail("token expired");
      VerifyResult hit;
      hit.ok = true;
      hit.claims = it->second;
      return hit;
    }
  }
  VerifyResult result = VerifyUncached(token, now_s);
  if (result.ok) {
    std::lock_guard lock(cache_mu_);
    if (verified_.size() >= kCachedTokens) verified_.erase(verified_.begin());
    verified_.emplace(std::string(token), result.claims);
  }
  return result;
}

VerifyResult JwtAuth::VerifyUncached(std::string_view token, std::int64_t now_s) const {
  if (!SecretIsStrong(secret_)) return Fail("server secret not configured");
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
  // The algorithm is pinned before any key is used: "none" and algorithm confusion (HS512,
  // RS256 with our secret as a "public key") never reach the signature check.
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
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

  // libjwt checks the HMAC (constant time since Debian's fix for CVE-2024-25189).
  const std::string token_z(token);
  jwt_t* raw = nullptr;
  const int rc =
      jwt_decode(&raw, token_z.c_str(), reinterpret_cast<const unsigned char*>(secret_.data()),
                 static_cast<int>(secret_.size()));
  const JwtPtr decoded(raw);
  if (rc != 0 || !decoded) return Fail("bad signature");
  if (jwt_get_alg(decoded.get()) != JWT_ALG_HS256) return Fail("unsupported algorithm");

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

  VerifyResult result;
  result.ok = true;
  result.claims.sub = sub->get<std::string>();
  result.claims.role = *parsed_role;
  result.claims.exp = *exp_s;
  return result;
}

std::string JwtAuth::Mint(const Claims& claims) const {
  if (!SecretIsStrong(secret_) || !ValidSubject(claims.sub)) return {};
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0 || raw == nullptr) return {};
  const JwtPtr jwt(raw);
  const std::string role(RoleName(claims.role));
  if (jwt_add_grant(jwt.get(), "sub", claims.sub.c_str()) != 0 ||
      jwt_add_grant(jwt.get(), "role", role.c_str()) != 0 ||
      jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(claims.exp)) != 0 ||
      jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret_.data()),
                  static_cast<int>(secret_.size())) != 0) {
    return {};
  }
  const std::unique_ptr<char, MallocFree> encoded(jwt_encode_str(jwt.get()));
  if (!encoded) return {};
  return std::string(encoded.get());
}

}  // namespace stockgate::server
