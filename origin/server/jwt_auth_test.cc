#include "origin/server/jwt_auth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <string_view>

namespace stockgate::server {
namespace {

constexpr std::string_view kSecret = "test-secret-0123456789-abcdefghijklmnop";
constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

// Unpadded base64url, written independently of libjwt so the tests do not trust the library
// they check.
std::string B64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const unsigned v =
        static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// header.payload.signature over already-encoded segments.
std::string SignSegments(std::string_view header_b64, std::string_view payload_b64,
                         const EVP_MD* md = EVP_sha256(), std::string_view key = kSecret) {
  const std::string signing_input = std::string(header_b64) + "." + std::string(payload_b64);
  return signing_input + "." + B64Url(Hmac(md, key, signing_input));
}

// A token built by hand from JSON texts, signed with HMAC over `md`.
std::string Sign(std::string_view header_json, std::string_view payload_json,
                 const EVP_MD* md = EVP_sha256(), std::string_view key = kSecret) {
  return SignSegments(B64Url(header_json), B64Url(payload_json), md, key);
}

std::string Payload(std::string_view exp = "1700003600", std::string_view sub = R"("order-svc")",
                    std::string_view role = R"("service")") {
  return R"({"sub":)" + std::string(sub) + R"(,"role":)" + std::string(role) + R"(,"exp":)" +
         std::string(exp) + "}";
}

class JwtAuthTest : public testing::Test {
 protected:
  // Verify's error for a token, or "ok".
  std::string Outcome(std::string_view token, std::int64_t now_s = kNow) const {
    const VerifyResult r = auth_.Verify(token, now_s);
    return r.ok ? "ok" : r.error;
  }

  JwtAuth auth_{std::string(kSecret)};
};

// The hand-built HS256 token is accepted, so every rejection below is caused by its one change.
TEST_F(JwtAuthTest, HandBuiltHs256TokenIsAccepted) {
  const VerifyResult r = auth_.Verify(Sign(kHs256Header, Payload()), kNow);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.claims.sub, "order-svc");
  EXPECT_EQ(r.claims.role, Role::kService);
  EXPECT_EQ(r.claims.exp, 1'700'003'600);
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS256"})", Payload())), "ok");  // typ is optional
}

// Mint produces tokens that Verify accepts with the same claims, for every role.
TEST_F(JwtAuthTest, MintVerifyRoundTrip) {
  for (const Role role : {Role::kViewer, Role::kService, Role::kAdmin}) {
    const Claims in{"user-42", role, kNow + 60};
    const std::string token = auth_.Mint(in);
    ASSERT_FALSE(token.empty());
    const VerifyResult r = auth_.Verify(token, kNow);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.claims.sub, in.sub);
    EXPECT_EQ(r.claims.role, in.role);
    EXPECT_EQ(r.claims.exp, in.exp);
  }
}

// Mint refuses claims Verify could never accept, so no unverifiable token is handed out.
TEST_F(JwtAuthTest, MintRefusesInvalidSubject) {
  EXPECT_EQ(auth_.Mint({"", Role::kAdmin, kNow + 60}), "");
  EXPECT_EQ(auth_.Mint({std::string("a\0b", 3), Role::kAdmin, kNow + 60}), "");
}

// alg "none" (unsigned) is refused in every spelling, with or without a signature segment.
TEST_F(JwtAuthTest, RejectsAlgNone) {
  const std::string payload = B64Url(Payload());
  for (const std::string_view header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"none"})",
                                        R"({"alg":"None"})", R"({"alg":"NONE"})"}) {
    const std::string unsigned_token = B64Url(header) + "." + payload + ".";
    EXPECT_EQ(Outcome(unsigned_token), "unsupported algorithm") << header;
    EXPECT_EQ(Outcome(SignSegments(B64Url(header), payload)), "unsupported algorithm") << header;
  }
}

// Other algorithms are refused even when correctly signed with our secret (algorithm confusion).
TEST_F(JwtAuthTest, RejectsAlgorithmsOtherThanHs256) {
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS512","typ":"JWT"})", Payload(), EVP_sha512())),
            "unsupported algorithm");
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS384","typ":"JWT"})", Payload(), EVP_sha384())),
            "unsupported algorithm");
  EXPECT_EQ(Outcome(Sign(R"({"alg":"RS256","typ":"JWT"})", Payload())), "unsupported algorithm");
  EXPECT_EQ(Outcome(Sign(R"({"alg":"hs256"})", Payload())), "unsupported algorithm");
  EXPECT_EQ(Outcome(Sign(R"({"typ":"JWT"})", Payload())), "unsupported algorithm");
  EXPECT_EQ(Outcome(Sign(R"({"alg":256})", Payload())), "unsupported algorithm");
}

// A token signed with another secret, even a minted one, fails the signature check.
TEST_F(JwtAuthTest, RejectsWrongSecret) {
  const JwtAuth other("another-secret-0123456789-abcdefghijklmnop");
  const std::string token = other.Mint({"user-42", Role::kAdmin, kNow + 60});
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(Outcome(token), "bad signature");
  EXPECT_EQ(
      Outcome(Sign(kHs256Header, Payload(), EVP_sha256(), "wrong-key-but-long-enough-000000")),
      "bad signature");
}

// Changing one payload byte (viewer -> admin escalation) or one signature byte breaks the token.
TEST_F(JwtAuthTest, RejectsTamperedToken) {
  const std::string good = Sign(kHs256Header, Payload("1700003600", R"("u")", R"("viewer")"));
  ASSERT_EQ(Outcome(good), "ok");
  const std::size_t dot1 = good.find('.');
  const std::size_t dot2 = good.rfind('.');
  const std::string forged_payload = B64Url(Payload("1700003600", R"("u")", R"("admin")"));
  EXPECT_EQ(Outcome(good.substr(0, dot1 + 1) + forged_payload + good.substr(dot2)),
            "bad signature");

  std::string one_byte = Payload("1700003600", R"("u")", R"("viewer")");
  one_byte[one_byte.find(R"("u")") + 1] = 'v';  // the subject changes from "u" to "v"
  EXPECT_EQ(Outcome(good.substr(0, dot1 + 1) + B64Url(one_byte) + good.substr(dot2)),
            "bad signature");

  std::string bad_sig = good;
  bad_sig[dot2 + 5] = bad_sig[dot2 + 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Outcome(bad_sig), "bad signature");
  EXPECT_EQ(Outcome(good.substr(0, dot2 + 1)), "bad signature");  // signature stripped
}

// A token is valid strictly before exp: exp == now is already expired.
TEST_F(JwtAuthTest, RejectsExpiredToken) {
  const std::string token = Sign(kHs256Header, Payload("1700000000"));
  EXPECT_EQ(Outcome(token, kNow - 1), "ok");
  EXPECT_EQ(Outcome(token, kNow), "token expired");
  EXPECT_EQ(Outcome(token, kNow + 3600), "token expired");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("-5"))), "token expired");
}

// A token verified once is served from memory afterwards, yet still expires on time; past the
// cache's bound older tokens are forgotten, never wrongly accepted.
TEST_F(JwtAuthTest, RememberedTokensStillExpireAndTheCacheIsBounded) {
  const std::string token = auth_.Mint({"svc", Role::kService, kNow + 10});
  EXPECT_EQ(Outcome(token, kNow), "ok");
  EXPECT_EQ(Outcome(token, kNow + 9), "ok");
  EXPECT_EQ(Outcome(token, kNow + 10), "token expired");
  for (std::size_t i = 0; i <= JwtAuth::kCachedTokens; ++i) {
    std::string sub = "u";
    sub += std::to_string(i);
    ASSERT_EQ(Outcome(auth_.Mint({sub, Role::kViewer, kNow + 60})), "ok");
  }
  EXPECT_EQ(Outcome(token, kNow + 5), "ok");
  EXPECT_EQ(Outcome(token, kNow + 11), "token expired");
  const JwtAuth other{std::string(kSecret) + "-rotated"};
  EXPECT_EQ(other.Verify(token, kNow).error, "bad signature");  // each verifier its own memory
}

// exp is required and must be a JSON integer: strings, fractions, null and out-of-range are
// refused (libjwt alone would read all of them as 0).
TEST_F(JwtAuthTest, RejectsMissingOrNonIntegerExp) {
  EXPECT_EQ(Outcome(Sign(kHs256Header, R"({"sub":"u","role":"admin"})")), "missing exp claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload(R"("1700003600")"))), "invalid exp claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600.5"))), "invalid exp claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1.7e10"))), "invalid exp claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("null"))), "invalid exp claim");
  // Beyond int64 libjwt cannot even parse the payload: refused before the signature check.
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("18446744073709551615"))), "malformed token");
}

// nbf, when present, must be an integer not in the future.
TEST_F(JwtAuthTest, HonoursNotBefore) {
  const auto with_nbf = [](std::string_view nbf) {
    return Sign(kHs256Header,
                R"({"sub":"u","role":"admin","exp":1700003600,"nbf":)" + std::string(nbf) + "}");
  };
  EXPECT_EQ(Outcome(with_nbf("1700000000")), "ok");
  EXPECT_EQ(Outcome(with_nbf("1700000001")), "token not yet valid");
  EXPECT_EQ(Outcome(with_nbf(R"("soon")")), "invalid nbf claim");
}

// sub must be a non-empty string of at most 255 bytes without control characters.
TEST_F(JwtAuthTest, RejectsMissingOrEmptySubject) {
  EXPECT_EQ(Outcome(Sign(kHs256Header, R"({"role":"admin","exp":1700003600})")),
            "missing sub claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", R"("")"))), "missing sub claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", "42"))), "missing sub claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", R"("a\nb")"))), "invalid sub claim");
  const std::string longest(kMaxSubjectBytes, 's');
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", "\"" + longest + "\""))), "ok");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", "\"" + longest + "s\""))),
            "invalid sub claim");
}

// role must be present and one of the three exact wire names.
TEST_F(JwtAuthTest, RejectsMissingOrUnknownRole) {
  EXPECT_EQ(Outcome(Sign(kHs256Header, R"({"sub":"u","exp":1700003600})")), "missing role claim");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", R"("u")", R"("root")"))),
            "unknown role");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", R"("u")", R"("Admin")"))),
            "unknown role");
  EXPECT_EQ(Outcome(Sign(kHs256Header, Payload("1700003600", R"("u")", R"(["admin"])"))),
            "unknown role");
}

// Structural garbage is refused as malformed before any key is used.
TEST_F(JwtAuthTest, RejectsMalformedTokens) {
  const std::string good = Sign(kHs256Header, Payload());
  EXPECT_EQ(Outcome(""), "malformed token");
  EXPECT_EQ(Outcome("garbage"), "malformed token");
  EXPECT_EQ(Outcome("a.b"), "malformed token");
  EXPECT_EQ(Outcome(good + ".extra"), "malformed token");
  EXPECT_EQ(Outcome("..."), "malformed token");
  EXPECT_EQ(Outcome("@@@." + B64Url(Payload()) + ".sig"), "malformed token");
  EXPECT_EQ(Outcome(B64Url(kHs256Header) + "=." + B64Url(Payload()) + ".sig"), "malformed token");
  EXPECT_EQ(Outcome(Sign("not json", Payload())), "malformed token");
  EXPECT_EQ(Outcome(Sign(R"(["HS256"])", Payload())), "malformed token");
  EXPECT_EQ(Outcome(Sign(kHs256Header, "[1,2]")), "malformed token");
  EXPECT_EQ(Outcome(Sign(kHs256Header, R"({"sub":"u")")), "malformed token");
  // Correctly signed, but the payload segment carries junk that libjwt's decoder would skip.
  EXPECT_EQ(Outcome(SignSegments(B64Url(kHs256Header), B64Url(Payload()) + "!!")),
            "malformed token");
  // Non-canonical base64url: the last character carries non-zero unused bits.
  std::string padded = Payload();
  while (padded.size() % 3 != 2) padded += ' ';  // two trailing bytes -> 2 unused bits
  std::string payload_b64 = B64Url(padded);
  ASSERT_EQ(payload_b64.size() % 4, 3u);
  payload_b64.back() = static_cast<char>(payload_b64.back() + 1);
  EXPECT_EQ(Outcome(SignSegments(B64Url(kHs256Header), payload_b64)), "malformed token");
}

// Unknown token types and critical extensions are refused rather than ignored.
TEST_F(JwtAuthTest, RejectsUnsupportedHeaders) {
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS256","typ":"jwt"})", Payload())), "ok");
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS256","typ":"JOSE+JSON"})", Payload())),
            "unsupported token type");
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS256","crit":["b64"],"b64":false})", Payload())),
            "unsupported critical header");
}

// Tokens over 8 KiB are refused outright; one just under the limit still verifies.
TEST_F(JwtAuthTest, RejectsTokensOver8KiB) {
  // Padded with a claim of its own (subjects are capped well below 8 KiB).
  const auto padded = [](std::size_t pad) {
    return Sign(kHs256Header, R"({"sub":"u","role":"viewer","exp":1700003600,"pad":")" +
                                  std::string(pad, 'x') + R"("})");
  };
  std::size_t pad = 5000;
  std::string token = padded(pad);
  while (padded(pad + 1).size() <= kMaxJwtBytes) token = padded(++pad);
  ASSERT_LE(token.size(), kMaxJwtBytes);
  ASSERT_GT(token.size(), kMaxJwtBytes - 4);
  EXPECT_EQ(Outcome(token), "ok");
  const std::string too_long = padded(pad + 4);
  ASSERT_GT(too_long.size(), kMaxJwtBytes);
  EXPECT_EQ(Outcome(too_long), "token too large");
}

// The 32-byte rule: shorter secrets are weak, and a JwtAuth holding one refuses everything.
TEST_F(JwtAuthTest, WeakSecretFailsClosed) {
  EXPECT_FALSE(JwtAuth::SecretIsStrong(std::string(31, 'k')));
  EXPECT_TRUE(JwtAuth::SecretIsStrong(std::string(32, 'k')));
  EXPECT_FALSE(JwtAuth::SecretIsStrong(""));
  const std::string weak(31, 'k');
  const JwtAuth auth(weak);
  EXPECT_EQ(auth.Mint({"u", Role::kAdmin, kNow + 60}), "");
  const VerifyResult r = auth.Verify(Sign(kHs256Header, Payload(), EVP_sha256(), weak), kNow);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "server secret not configured");
}

// The full role matrix: admin everything, service itself and viewer, viewer only viewer.
TEST(RoleTest, AllowsMatrix) {
  EXPECT_TRUE(Allows(Role::kAdmin, Role::kAdmin));
  EXPECT_TRUE(Allows(Role::kAdmin, Role::kService));
  EXPECT_TRUE(Allows(Role::kAdmin, Role::kViewer));
  EXPECT_FALSE(Allows(Role::kService, Role::kAdmin));
  EXPECT_TRUE(Allows(Role::kService, Role::kService));
  EXPECT_TRUE(Allows(Role::kService, Role::kViewer));
  EXPECT_FALSE(Allows(Role::kViewer, Role::kAdmin));
  EXPECT_FALSE(Allows(Role::kViewer, Role::kService));
  EXPECT_TRUE(Allows(Role::kViewer, Role::kViewer));
}

// Role wire names round-trip and nothing else parses.
TEST(RoleTest, NamesRoundTrip) {
  for (const Role role : {Role::kViewer, Role::kService, Role::kAdmin}) {
    EXPECT_EQ(RoleFromName(RoleName(role)), role);
  }
  EXPECT_EQ(RoleName(Role::kService), "service");
  EXPECT_FALSE(RoleFromName("ADMIN").has_value());
  EXPECT_FALSE(RoleFromName("").has_value());
}

// The Authorization header: case-insensitive scheme, lenient whitespace, exactly one token.
TEST(BearerTokenTest, ExtractsTokenFromHeader) {
  EXPECT_EQ(BearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER\tabc"), "abc");
  EXPECT_EQ(BearerToken("  Bearer    abc  "), "abc");
  EXPECT_FALSE(BearerToken("").has_value());
  EXPECT_FALSE(BearerToken("Bearer").has_value());
  EXPECT_FALSE(BearerToken("Bearer   ").has_value());
  EXPECT_FALSE(BearerToken("Bearerabc").has_value());
  EXPECT_FALSE(BearerToken("Basic dXNlcjpwYXNz").has_value());
  EXPECT_FALSE(BearerToken("Bearer abc def").has_value());
  EXPECT_FALSE(BearerToken("Token abc").has_value());
}

}  // namespace
}  // namespace stockgate::server
