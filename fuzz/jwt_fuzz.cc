// Fuzz target: bearer tokens as the origin reads them. The input is taken three ways: as an
// Authorization header value (BearerToken), as a token (Verify), and, split at its first newline,
// as a JOSE header and a claims set signed with the server's secret, so that Verify's claim checks
// are reached and not only its signature check; tokens are also verified by a JwtAuth holding an
// ES256 public key beside the secret (the kid lookup and key choice), and the input is read as a
// JWK Set. Checks: a token Verify accepts has a known role, a sub of 1..255 bytes without control
// characters and an exp after now; a token minted from accepted claims verifies to the same
// claims; a JWK Set ParseJwks accepts holds keys with a kid and a public key PEM.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "origin/server/jwt_auth.h"

namespace server = stockgate::server;
namespace core = stockgate::core;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
constexpr std::int64_t kNow = 1'800'000'000;

std::string Base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto byte = [&](std::size_t i) -> unsigned {
    return i < in.size() ? static_cast<unsigned char>(in[i]) : 0u;
  };
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    const std::size_t chars = std::min<std::size_t>(4, (in.size() - i) * 4 / 3 + 1);  // no padding
    for (std::size_t k = 0; k < chars; ++k) out += kAlphabet[v >> (18 - 6 * k) & 63];
  }
  return out;
}

std::string Signed(std::string_view header, std::string_view claims) {
  const std::string input = Base64Url(header) + "." + Base64Url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + Base64Url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

void CheckAccepted(const server::JwtAuth& auth, const server::VerifyResult& v) {
  if (!v.ok()) {
    FUZZ_CHECK(v.code() == core::Code::kUnauthenticated && !v.error().empty());
    return;
  }
  const server::Claims& c = *v;
  FUZZ_CHECK(!c.sub.empty() && c.sub.size() <= 255);
  for (const char ch : c.sub) FUZZ_CHECK(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f);
  FUZZ_CHECK(c.exp > kNow);
  FUZZ_CHECK(server::RoleFromName(server::RoleName(c.role)) == c.role);
  const core::Result<std::string> minted = auth.Mint(c);
  FUZZ_CHECK(minted.ok());
  const server::VerifyResult again = auth.Verify(*minted, kNow);
  FUZZ_CHECK(again.ok() && again->sub == c.sub && again->role == c.role && again->exp == c.exp);
}

}  // namespace

// A JwtAuth with the secret and the P-256 public key of RFC 7515 appendix A.3 (kid "k1").
server::JwtAuth BothKinds() {
  core::Result<std::vector<server::PublicKey>> keys = server::ParseJwks(
      R"({"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
      R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  FUZZ_CHECK(keys.ok());
  return server::JwtAuth(server::VerificationKeys{.hs256_secret = std::string(kSecret),
                                                  .es256 = std::move(keys).value()});
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const server::JwtAuth auth{std::string(kSecret)};
  static const server::JwtAuth both = BothKinds();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (const auto token = server::BearerToken(input)) {
    FUZZ_CHECK(!token->empty());
    CheckAccepted(auth, auth.Verify(*token, kNow));
  }
  CheckAccepted(auth, auth.Verify(input, kNow));
  CheckAccepted(both, both.Verify(input, kNow));
  if (const auto keys = server::ParseJwks(input)) {
    FUZZ_CHECK(!keys->empty());
    for (const server::PublicKey& k : *keys) {
      FUZZ_CHECK(!k.kid.empty() && k.pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    }
  } else {
    FUZZ_CHECK(keys.code() == core::Code::kInvalidRequest && !keys.error().empty());
  }
  const std::size_t nl = input.find('\n');
  if (nl != std::string_view::npos) {
    CheckAccepted(auth, auth.Verify(Signed(input.substr(0, nl), input.substr(nl + 1)), kNow));
  }
  return 0;
}
