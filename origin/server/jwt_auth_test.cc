#include "origin/server/jwt_auth.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

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
    return r.ok() ? "ok" : r.error();
  }

  JwtAuth auth_{std::string(kSecret)};
};

// The hand-built HS256 token is accepted, so every rejection below is caused by its one change.
TEST_F(JwtAuthTest, HandBuiltHs256TokenIsAccepted) {
  const VerifyResult r = auth_.Verify(Sign(kHs256Header, Payload()), kNow);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->sub, "order-svc");
  EXPECT_EQ(r->role, Role::kService);
  EXPECT_EQ(r->exp, 1'700'003'600);
  EXPECT_EQ(Outcome(Sign(R"({"alg":"HS256"})", Payload())), "ok");  // typ is optional
}

// Mint produces tokens that Verify accepts with the same claims, for every role.
TEST_F(JwtAuthTest, MintVerifyRoundTrip) {
  for (const Role role : {Role::kViewer, Role::kService, Role::kAdmin}) {
    const Claims in{"user-42", role, kNow + 60};
    const std::string token = auth_.Mint(in).value();
    ASSERT_FALSE(token.empty());
    const VerifyResult r = auth_.Verify(token, kNow);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->sub, in.sub);
    EXPECT_EQ(r->role, in.role);
    EXPECT_EQ(r->exp, in.exp);
  }
}

// Mint refuses claims Verify could never accept, so no unverifiable token is handed out.
TEST_F(JwtAuthTest, MintRefusesInvalidSubject) {
  EXPECT_FALSE(auth_.Mint({"", Role::kAdmin, kNow + 60}).ok());
  EXPECT_FALSE(auth_.Mint({std::string("a\0b", 3), Role::kAdmin, kNow + 60}).ok());
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
  const std::string token = other.Mint({"user-42", Role::kAdmin, kNow + 60}).value();
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
  const std::string token = auth_.Mint({"svc", Role::kService, kNow + 10}).value();
  EXPECT_EQ(Outcome(token, kNow), "ok");
  EXPECT_EQ(Outcome(token, kNow + 9), "ok");
  EXPECT_EQ(Outcome(token, kNow + 10), "token expired");
  for (std::size_t i = 0; i <= JwtAuth::kCachedTokens; ++i) {
    std::string sub = "u";
    sub += std::to_string(i);
    ASSERT_EQ(Outcome(auth_.Mint({sub, Role::kViewer, kNow + 60}).value()), "ok");
  }
  EXPECT_EQ(Outcome(token, kNow + 5), "ok");
  EXPECT_EQ(Outcome(token, kNow + 11), "token expired");
  const JwtAuth other{std::string(kSecret) + "-rotated"};
  EXPECT_EQ(other.Verify(token, kNow).error(), "bad signature");  // each verifier its own memory
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
  EXPECT_FALSE(auth.Mint({"u", Role::kAdmin, kNow + 60}).ok());
  const VerifyResult r = auth.Verify(Sign(kHs256Header, Payload(), EVP_sha256(), weak), kNow);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "server keys not configured");
}

// A P-256 key pair made by OpenSSL for the test: the private key as PEM and the public key as a
// JWK (what an issuer publishes).
struct EcKey {
  std::string private_pem;
  nlohmann::json jwk;
  EVP_PKEY* key = nullptr;

  explicit EcKey(const std::string& kid) {
    key = EVP_EC_gen("P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    private_pem.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    unsigned char point[65];
    std::size_t len = 0;
    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len);
    const std::string raw(reinterpret_cast<const char*>(point), len);
    jwk = {{"kty", "EC"},
           {"crv", "P-256"},
           {"kid", kid},
           {"use", "sig"},
           {"alg", "ES256"},
           {"x", B64Url(raw.substr(1, 32))},
           {"y", B64Url(raw.substr(33, 32))}};
  }
  ~EcKey() { EVP_PKEY_free(key); }
  EcKey(const EcKey&) = delete;
  EcKey& operator=(const EcKey&) = delete;

  // An ES256 JWS over the JSON texts, signed by OpenSSL (not libjwt): DER signature turned into
  // the JWS form r || s (RFC 7518 §3.4), as Web Crypto and every other issuer write it.
  std::string Sign(std::string_view header_json, std::string_view payload_json) const {
    const std::string input = B64Url(header_json) + "." + B64Url(payload_json);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    std::size_t der_len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(md, nullptr, &der_len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string der(der_len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(der.data()), &der_len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(md);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
    unsigned char rs[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32);
    ECDSA_SIG_free(sig);
    return input + "." + B64Url(std::string_view(reinterpret_cast<const char*>(rs), 64));
  }
};

std::string Jwks(std::initializer_list<const EcKey*> keys) {
  nlohmann::json set = {{"keys", nlohmann::json::array()}};
  for (const EcKey* k : keys) set["keys"].push_back(k->jwk);
  return set.dump();
}

std::vector<PublicKey> MustParse(const std::string& jwks) {
  core::Result<std::vector<PublicKey>> keys = ParseJwks(jwks);
  EXPECT_TRUE(keys.ok()) << keys.error();
  return keys ? std::move(keys).value() : std::vector<PublicKey>{};
}

// A token minted by the issuer key, which must succeed.
std::string MustMintEs256(const Claims& claims, const std::string& private_pem,
                          const std::string& kid) {
  const core::Result<std::string> token = JwtAuth::MintEs256(claims, private_pem, kid);
  EXPECT_TRUE(token.ok()) << token.error();
  return token ? *token : std::string();
}

// An issuer signs ES256 with its private key; a verifier holding only the public key accepts the
// token, whether libjwt or OpenSSL by hand made the signature.
TEST(Es256Test, PublicKeyVerifiesIssuerTokens) {
  const EcKey k1("k1");
  const JwtAuth auth(VerificationKeys{.hs256_secret = "", .es256 = MustParse(Jwks({&k1}))});
  const std::string token =
      MustMintEs256({"customer-7", Role::kBuyer, kNow + 60}, k1.private_pem, "k1");
  ASSERT_FALSE(token.empty());
  const VerifyResult r = auth.Verify(token, kNow);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->sub, "customer-7");
  EXPECT_EQ(r->role, Role::kBuyer);
  EXPECT_EQ(r->exp, kNow + 60);

  const std::string by_hand = k1.Sign(R"({"alg":"ES256","typ":"JWT","kid":"k1"})",
                                      Payload("1700003600", R"("c8")", R"("buyer")"));
  EXPECT_TRUE(auth.Verify(by_hand, kNow).ok()) << auth.Verify(by_hand, kNow).error();
  // One key and no kid: that key.
  EXPECT_TRUE(auth.Verify(k1.Sign(R"({"alg":"ES256"})", Payload()), kNow).ok());
  // Expiry, tampering and a verifier without HS256 still hold.
  EXPECT_EQ(auth.Verify(token, kNow + 60).error(), "token expired");
  std::string tampered = by_hand;
  tampered[tampered.find('.') + 5] ^= 1;
  EXPECT_FALSE(auth.Verify(tampered, kNow).ok());
  EXPECT_EQ(auth.Verify(Sign(kHs256Header, Payload()), kNow).error(), "unsupported algorithm");
}

// Rotation: two published keys, each token verified by the key its kid names; an unknown kid, a
// missing kid among several keys, or a signature by the other key is refused.
TEST(Es256Test, KeyIdSelectsAmongRotatedKeys) {
  const EcKey k1("2026-10");
  const EcKey k2("2026-11");
  const EcKey stranger("2026-11");
  const JwtAuth auth(
      VerificationKeys{.hs256_secret = std::string(kSecret), .es256 = MustParse(Jwks({&k1, &k2}))});
  for (const EcKey* k : {&k1, &k2}) {
    const std::string kid = k->jwk["kid"];
    const std::string token = MustMintEs256({"s", Role::kService, kNow + 60}, k->private_pem, kid);
    EXPECT_TRUE(auth.Verify(token, kNow).ok()) << kid << ": " << auth.Verify(token, kNow).error();
  }
  EXPECT_EQ(auth.Verify(k1.Sign(R"({"alg":"ES256","kid":"2025-01"})", Payload()), kNow).error(),
            "unknown key id");
  EXPECT_EQ(auth.Verify(k1.Sign(R"({"alg":"ES256"})", Payload()), kNow).error(), "missing key id");
  EXPECT_EQ(auth.Verify(k1.Sign(R"({"alg":"ES256","kid":"2026-11"})", Payload()), kNow).error(),
            "bad signature");
  EXPECT_EQ(
      auth.Verify(stranger.Sign(R"({"alg":"ES256","kid":"2026-11"})", Payload()), kNow).error(),
      "bad signature");
  EXPECT_EQ(auth.Verify(k1.Sign(R"({"alg":"ES256","kid":7})", Payload()), kNow).error(),
            "unknown key id");
  // HS256 beside them, with the shared secret.
  EXPECT_TRUE(auth.Verify(Sign(kHs256Header, Payload()), kNow).ok());
}

// Algorithm confusion: a token that claims HS256 and is "signed" with the public key's PEM as
// the HMAC secret is refused, with or without an HS256 secret configured.
TEST(Es256Test, PublicKeyIsNeverAnHmacSecret) {
  const EcKey k1("k1");
  const std::vector<PublicKey> keys = MustParse(Jwks({&k1}));
  const std::string forged = Sign(kHs256Header, Payload(), EVP_sha256(), keys[0].pem);
  const JwtAuth es_only(VerificationKeys{.hs256_secret = "", .es256 = keys});
  EXPECT_EQ(es_only.Verify(forged, kNow).error(), "unsupported algorithm");
  const JwtAuth both(VerificationKeys{.hs256_secret = std::string(kSecret), .es256 = keys});
  EXPECT_EQ(both.Verify(forged, kNow).error(), "bad signature");
  // ES384, RS256 and none are not ours either.
  EXPECT_EQ(both.Verify(k1.Sign(R"({"alg":"ES384","kid":"k1"})", Payload()), kNow).error(),
            "unsupported algorithm");
}

// What a JWK Set must be; each refusal names the key and the reason.
TEST(Es256Test, ParseJwksRefusesWhatCannotVerify) {
  const EcKey k1("k1");
  const auto refused = [](nlohmann::json jwk) {
    nlohmann::json set = {{"keys", {std::move(jwk)}}};
    const core::Result<std::vector<PublicKey>> keys = ParseJwks(set.dump());
    return keys ? std::string("accepted") : keys.error();
  };
  EXPECT_EQ(refused(k1.jwk), "accepted");
  nlohmann::json with_private = k1.jwk;
  with_private["d"] = B64Url(std::string(32, 'x'));
  EXPECT_EQ(refused(with_private),
            "key 0 (kid k1) holds a private key: give verifiers the public key only");
  nlohmann::json no_kid = k1.jwk;
  no_kid.erase("kid");
  EXPECT_EQ(refused(no_kid), "key 0: needs a kid (the tokens it verifies name it)");
  nlohmann::json rsa = k1.jwk;
  rsa["kty"] = "RSA";
  EXPECT_EQ(refused(rsa), "key 0 (kid k1): only EC P-256 keys (ES256) are supported");
  nlohmann::json p384 = k1.jwk;
  p384["crv"] = "P-384";
  EXPECT_EQ(refused(p384), "key 0 (kid k1): only EC P-256 keys (ES256) are supported");
  nlohmann::json enc = k1.jwk;
  enc["use"] = "enc";
  EXPECT_EQ(refused(enc), "key 0 (kid k1): alg must be ES256 and use sig");
  nlohmann::json off_curve = k1.jwk;
  off_curve["y"] = off_curve["x"];
  EXPECT_EQ(refused(off_curve), "key 0 (kid k1): x and y are not a point of P-256");
  nlohmann::json short_x = k1.jwk;
  short_x["x"] = B64Url("abc");
  EXPECT_EQ(refused(short_x), "key 0 (kid k1): x and y are not a point of P-256");
  EXPECT_EQ(ParseJwks(Jwks({&k1, &k1})).error(), "key 1 (kid k1): kid used twice");
  for (const char* bad : {"", "[]", "{}", R"({"keys":[]})", R"({"keys":{}})", "not json"}) {
    EXPECT_EQ(ParseJwks(bad).code(), core::Code::kInvalidRequest) << bad;
  }
}

// Minting ES256 needs a P-256 private key and a kid; a public key or an HS secret cannot sign.
TEST(Es256Test, MintNeedsAPrivateP256Key) {
  const EcKey k1("k1");
  const Claims claims{"s", Role::kAdmin, kNow + 60};
  EXPECT_EQ(JwtAuth::MintEs256(claims, MustParse(Jwks({&k1}))[0].pem, "k1").error(),
            "not a P-256 private key in PEM");
  EXPECT_FALSE(JwtAuth::MintEs256(claims, kSecret, "k1").ok());
  EXPECT_EQ(JwtAuth::MintEs256(claims, k1.private_pem, "").error(),
            "a kid is required (1 to 255 printable bytes)");
  EXPECT_EQ(JwtAuth::MintEs256({"", Role::kAdmin, kNow + 60}, k1.private_pem, "k1").code(),
            core::Code::kInvalidRequest);
}

// The public JWK of an issuer's private key is what ParseJwks takes, and verifies its tokens.
TEST(Es256Test, PublicJwkOfTheIssuerKeyVerifiesItsTokens) {
  const EcKey k1("k1");
  const core::Result<std::string> public_jwk = JwtAuth::PublicJwk(k1.private_pem, "2026-11");
  ASSERT_TRUE(public_jwk.ok()) << public_jwk.error();
  const std::string& jwk = *public_jwk;
  EXPECT_EQ(nlohmann::json::parse(jwk)["x"], k1.jwk["x"]);
  const JwtAuth auth(
      VerificationKeys{.hs256_secret = "", .es256 = MustParse(R"({"keys":[)" + jwk + "]}")});
  const std::string token =
      MustMintEs256({"s", Role::kViewer, kNow + 60}, k1.private_pem, "2026-11");
  EXPECT_TRUE(auth.Verify(token, kNow).ok());
  EXPECT_EQ(JwtAuth::PublicJwk("not a key", "k").error(), "not a P-256 private key in PEM");
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
  // A buyer acts for itself only: the buyer routes, which service and admin may call too.
  EXPECT_TRUE(Allows(Role::kBuyer, Role::kBuyer));
  EXPECT_TRUE(Allows(Role::kService, Role::kBuyer));
  EXPECT_TRUE(Allows(Role::kAdmin, Role::kBuyer));
  EXPECT_FALSE(Allows(Role::kViewer, Role::kBuyer));
  EXPECT_FALSE(Allows(Role::kBuyer, Role::kViewer));
  EXPECT_FALSE(Allows(Role::kBuyer, Role::kService));
  EXPECT_FALSE(Allows(Role::kBuyer, Role::kAdmin));
}

// Role wire names round-trip and nothing else parses.
TEST(RoleTest, NamesRoundTrip) {
  for (const Role role : {Role::kViewer, Role::kService, Role::kAdmin, Role::kBuyer}) {
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
