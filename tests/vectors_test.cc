// Runs tests/vectors/validation.json against the native build of the validator and writes the
// transcript (one JSON object per case: name, code, field, message) that the wasm suites compare
// their own results with, so all three builds are held to identical output.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "core/requests.h"
#include "core/status.h"

namespace stockgate::core {
namespace {

using nlohmann::json;

std::string Hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Input(const json& c) {
  if (c.contains("body")) return c["body"].get<std::string>();
  if (c.contains("body_hex")) return Hex(c["body_hex"].get<std::string>());
  const json& r = c.at("body_repeat");
  std::string out = r.at("prefix").get<std::string>();
  const std::string unit = r.at("unit").get<std::string>();
  for (int i = 0; i < r.at("count").get<int>(); ++i) out += unit;
  out += r.at("suffix").get<std::string>();
  return out;
}

// Every vector gets exactly its expected code, field and (where given) message.
TEST(VectorsTest, NativeBuildMatchesEveryVector) {
  std::ifstream in(STOCKGATE_VECTORS, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << STOCKGATE_VECTORS;
  std::stringstream text;
  text << in.rdbuf();
  const json doc = json::parse(text.str(), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "vector file is not JSON";
  const json& cases = doc.at("cases");
  ASSERT_GE(cases.size(), 200u);

  std::ofstream transcript(STOCKGATE_NATIVE_TRANSCRIPT, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(transcript) << "cannot write " << STOCKGATE_NATIVE_TRANSCRIPT;
  std::set<std::string> names;
  for (const json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    ASSERT_TRUE(names.insert(name).second) << "duplicate vector name";
    RequestKind kind;
    ASSERT_TRUE(RequestKindFromName(c.at("kind").get<std::string>(), &kind));
    const Problem p = Validate(kind, Input(c));
    const json& expect = c.at("expect");
    EXPECT_EQ(CodeName(p.code), expect.at("code").get<std::string>()) << p.message;
    if (expect.contains("field")) {
      EXPECT_EQ(p.field, expect["field"].get<std::string>());
    }
    if (expect.contains("message")) {
      EXPECT_EQ(p.message, expect["message"].get<std::string>());
    }
    transcript << json{{"name", name},
                       {"code", CodeName(p.code)},
                       {"field", p.field},
                       {"message", p.message}}
                      .dump()
               << '\n';
  }
}

}  // namespace
}  // namespace stockgate::core
