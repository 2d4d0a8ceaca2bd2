#include "core/requests.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace stockgate::core {
namespace {

using nlohmann::json;

Problem Invalid(std::string field, std::string message) {
  return Problem{Code::kInvalidRequest, std::move(field), std::move(message)};
}

// RFC 6901 escaping of one reference token.
std::string PointerToken(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// The wording of the problems a reservation body can have, shared by the full parser and the
// plain fast path so that both report a body word for word the same.
std::string FieldPointer(std::string_view parent, std::string_view name) {
  return std::string(parent) + "/" + PointerToken(name);
}
std::string ItemPointer(std::size_t index) { return "/items/" + std::to_string(index); }
std::string RangeMessage(std::string_view name, std::int64_t min, std::int64_t max) {
  return std::string(name) + " must be between " + std::to_string(min) + " and " +
         std::to_string(max);
}
std::string IdMessage(std::string_view name) {
  return std::string(name) + " must be 1 to 64 characters of A-Z a-z 0-9 . _ : -";
}
Problem RepeatedSku(const std::string& item_pointer, std::int64_t sku) {
  return Invalid(item_pointer + "/sku",
                 "sku " + std::to_string(sku) + " appears more than once in items");
}

// Builds a json DOM from nlohmann's SAX events while enforcing what the DOM parser cannot: no
// duplicate keys (two parsers could otherwise disagree on which value wins) and a depth limit that
// stops a deeply nested body before it costs memory. Parse errors are reported by byte offset only,
// so the message never echoes the (possibly invalid UTF-8) input.
class StrictDomBuilder {
 public:
  explicit StrictDomBuilder(json* root) : root_(root) {}

  // The first problem, if any: a syntax or depth error outranks a duplicate key seen before it,
  // because "is this JSON at all" is answered first.
  Problem problem() const { return problem_.ok() ? duplicate_ : problem_; }

  bool null() { return Put(json(nullptr)); }
  bool boolean(bool v) { return Put(json(v)); }
  bool number_integer(json::number_integer_t v) { return Put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return Put(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) { return Put(json(v)); }
  bool string(json::string_t& v) { return Put(json(std::move(v))); }
  bool binary(json::binary_t& /*v*/) { return Fail(Invalid("", "body is not valid JSON")); }

  bool start_object(std::size_t /*elements*/) { return Open(json::object()); }
  bool start_array(std::size_t /*elements*/) { return Open(json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(json::string_t& k) {
    Frame& top = stack_.back();
    if (duplicate_.ok() && top.value->contains(k)) {
      duplicate_ = Invalid(Pointer() + "/" + PointerToken(k), "duplicate field \"" + k + "\"");
    }
    top.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*ex*/) {
    if (problem_.ok()) {
      problem_ =
          Invalid("", "body is not valid JSON (error at byte " + std::to_string(position) + ")");
    }
    return false;
  }

 private:
  struct Frame {
    json* value;
    std::string key;         // pending key when value is an object
    std::size_t next_index;  // next element index when value is an array
  };

  bool Fail(Problem p) {
    problem_ = std::move(p);
    return false;
  }

  // JSON pointer of the container on top of the stack.
  std::string Pointer() const {
    std::string out;
    for (std::size_t i = 1; i < stack_.size(); ++i) {
      const Frame& parent = stack_[i - 1];
      out += '/';
      out += parent.value->is_object() ? PointerToken(parent.key)
                                       : std::to_string(parent.next_index - 1);
    }
    return out;
  }

  // Stores v at the current position and returns where it now lives.
  json* Place(json&& v) {
    if (stack_.empty()) {
      *root_ = std::move(v);
      return root_;
    }
    Frame& top = stack_.back();
    if (top.value->is_object()) {
      return &((*top.value)[top.key] = std::move(v));
    }
    ++top.next_index;
    top.value->push_back(std::move(v));
    return &top.value->back();
  }

  bool Put(json&& v) {
    Place(std::move(v));
    return true;
  }

  bool Open(json&& container) {
    if (static_cast<int>(stack_.size()) >= kMaxJsonDepth) {
      return Fail(
          Invalid("", "body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"));
    }
    stack_.push_back(Frame{Place(std::move(container)), {}, 0});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  json* root_;
  std::vector<Frame> stack_;
  Problem problem_;
  Problem duplicate_;  // reported only if the whole body parses
};

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// Parses a body into an object. `empty_is_object` lets bodies that may be omitted (confirm,
// release, return) arrive empty.
Problem ParseBody(std::string_view body, bool empty_is_object, json* out) {
  if (body.size() > kMaxBodyBytes) {
    return Problem{Code::kPayloadTooLarge, "",
                   "body is " + std::to_string(body.size()) + " bytes; the limit is " +
                       std::to_string(kMaxBodyBytes)};
  }
  if (IsBlank(body)) {
    if (empty_is_object) {
      *out = json::object();
      return {};
    }
    return Invalid("", "body is empty; expected a JSON object");
  }
  // nlohmann's lexer takes a NUL byte for the end of input; JSON never contains a raw one.
  if (const auto nul = body.find('\0'); nul != std::string_view::npos) {
    return Invalid("", "body is not valid JSON (error at byte " + std::to_string(nul + 1) + ")");
  }
  StrictDomBuilder builder(out);
  const bool parsed = json::sax_parse(body.begin(), body.end(), &builder);
  if (Problem p = builder.problem(); !p.ok()) return p;
  if (!parsed) return Invalid("", "body is not valid JSON");
  if (!out->is_object()) {
    return Invalid("", "body must be a JSON object");
  }
  return {};
}

// Reads the fields of one JSON object in schema order; the first problem sticks.
class FieldReader {
 public:
  FieldReader(const json& object, std::string pointer)
      : object_(object), pointer_(std::move(pointer)) {}

  const Problem& problem() const { return problem_; }
  bool ok() const { return problem_.ok(); }

  // Rejects any key outside `known`; keys are visited in bytewise order (nlohmann keeps objects
  // sorted), so the reported key does not depend on the order the client wrote them in.
  void AllowOnly(std::initializer_list<std::string_view> known) {
    if (!ok()) return;
    for (const auto& [key, value] : object_.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Fail(key, "unknown field \"" + key + "\"");
        return;
      }
    }
  }

  // Integer in [min, max]; `range_message` replaces the default range text when given.
  void Int(std::string_view name, bool required, std::int64_t min, std::int64_t max,
           std::int64_t* out, std::string range_message = {}) {
    const json* v = Find(name, required);
    if (v == nullptr) return;
    if (!v->is_number_integer()) {
      Fail(name, std::string(name) + " must be an integer");
      return;
    }
    bool in_range = false;
    std::int64_t value = 0;
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      in_range = u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      value = in_range ? static_cast<std::int64_t>(u) : 0;
    } else {
      value = v->get<std::int64_t>();
      in_range = true;
    }
    if (!in_range || value < min || value > max) {
      Fail(name, range_message.empty() ? RangeMessage(name, min, max) : std::move(range_message));
      return;
    }
    *out = value;
  }

  void Id(std::string_view name, bool required, std::string* out) {
    const json* v = Find(name, required);
    if (v == nullptr) return;
    if (!v->is_string()) {
      Fail(name, std::string(name) + " must be a string");
      return;
    }
    const auto& s = v->get_ref<const std::string&>();
    if (!IsValidId(s)) {
      Fail(name, IdMessage(name));
      return;
    }
    *out = s;
  }

  void Reason(std::string* out) {
    const json* v = Find("reason", false);
    if (v == nullptr) return;
    if (!v->is_string()) {
      Fail("reason", "reason must be a string");
      return;
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > kMaxReasonBytes) {
      Fail("reason", "reason must be at most " + std::to_string(kMaxReasonBytes) + " bytes");
      return;
    }
    *out = s;
  }

  void Bool(std::string_view name, bool* out) {
    const json* v = Find(name, false);
    if (v == nullptr) return;
    if (!v->is_boolean()) {
      Fail(name, std::string(name) + " must be a boolean");
      return;
    }
    *out = v->get<bool>();
  }

  // The array under `name`, or nullptr (with a problem when it was required or mistyped).
  const json* Array(std::string_view name) {
    const json* v = Find(name, true);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Fail(name, std::string(name) + " must be an array");
      return nullptr;
    }
    return v;
  }

  void Fail(std::string_view name, std::string message) {
    problem_ = Invalid(FieldPointer(pointer_, name), std::move(message));
  }

 private:
  const json* Find(std::string_view name, bool required) {
    if (!ok()) return nullptr;
    const auto it = object_.find(name);
    if (it == object_.end()) {
      if (required) Fail(name, std::string(name) + " is required");
      return nullptr;
    }
    return &*it;
  }

  const json& object_;
  std::string pointer_;
  Problem problem_;
};

Problem ParseItems(const json& items, std::vector<Item>* out) {
  if (items.empty() || items.size() > kMaxItems) {
    return Invalid("/items", "items must hold 1 to " + std::to_string(kMaxItems) + " entries");
  }
  out->clear();
  out->reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string pointer = ItemPointer(i);
    if (!items[i].is_object()) {
      return Invalid(pointer, "item must be an object");
    }
    FieldReader r(items[i], pointer);
    Item item;
    r.AllowOnly({"sku", "qty"});
    r.Int("sku", true, 1, kMaxSku, &item.sku);
    r.Int("qty", true, 1, kMaxQty, &item.qty);
    if (!r.ok()) return r.problem();
    const bool repeated = std::any_of(out->begin(), out->end(),
                                      [&](const Item& seen) { return seen.sku == item.sku; });
    if (repeated) return RepeatedSku(pointer, item.sku);
    out->push_back(item);
  }
  return {};
}

// A cursor over the plain shape of a body: JSON whitespace, punctuation, strings of printable
// ASCII without escapes, unsigned integers of bare digits, the literals true and false. Each
// reader returns false on anything else; the caller then leaves the body to the full parser.
class PlainReader {
 public:
  explicit PlainReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool Eat(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  bool String(std::string_view* out) {
    if (!Eat('"')) return false;
    const char* begin = p_;
    for (; p_ != end_; ++p_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = std::string_view(begin, static_cast<std::size_t>(p_ - begin));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
    }
    return false;
  }

  // An integer of at most 18 digits (which cannot overflow int64), written as JSON writes it:
  // an optional minus sign, then 0 alone or digits without a leading zero; no fraction or
  // exponent. "-0" is left to the full parser.
  bool Integer(std::int64_t* out) {
    SkipSpace();
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    const char* begin = p_;
    std::int64_t value = 0;
    if (*p_ == '0') {
      if (negative) return false;
      ++p_;
    } else {
      for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
        if (p_ - begin == 18) return false;
        value = value * 10 + (*p_ - '0');
      }
    }
    if (p_ != end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
      return false;
    }
    *out = negative ? -value : value;
    return true;
  }

  bool Bool(bool* out) {
    SkipSpace();
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "true" : "false";
      if (static_cast<std::size_t>(end_ - p_) >= word.size() &&
          std::string_view(p_, word.size()) == word) {
        p_ += word.size();
        *out = value;
        return true;
      }
    }
    return false;
  }

  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }

 private:
  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  const char* p_;
  const char* end_;
};

// One item {"sku": N, "qty": N} in either order, each once; the numbers as written, in range
// or not (Judge checks them).
bool PlainItem(PlainReader& r, Item* out) {
  if (!r.Eat('{')) return false;
  bool sku = false;
  bool qty = false;
  do {
    std::string_view key;
    if (!r.String(&key) || !r.Eat(':')) return false;
    if (key == "sku" && !sku) {
      sku = r.Integer(&out->sku);
      if (!sku) return false;
    } else if (key == "qty" && !qty) {
      qty = r.Integer(&out->qty);
      if (!qty) return false;
    } else {
      return false;
    }
  } while (r.Eat(','));
  return r.Eat('}') && sku && qty;
}

bool PlainItems(PlainReader& r, std::vector<Item>* out) {
  if (!r.Eat('[')) return false;
  do {
    Item item;
    if (out->size() == kMaxItems || !PlainItem(r, &item)) return false;
    out->push_back(item);
  } while (r.Eat(','));
  return r.Eat(']');
}

// The first problem of a reservation read in the plain shape, in the order the full parser
// checks its fields (ParseFullReservation, ParseItems), whatever order the body wrote them in.
Problem Judge(const ReservationRequest& r, bool has_ttl, bool has_customer_id) {
  if (!IsValidId(r.order_id)) return Invalid("/order_id", IdMessage("order_id"));
  for (std::size_t i = 0; i < r.items.size(); ++i) {
    const Item& item = r.items[i];
    if (item.sku < 1 || item.sku > kMaxSku) {
      return Invalid(FieldPointer(ItemPointer(i), "sku"), RangeMessage("sku", 1, kMaxSku));
    }
    if (item.qty < 1 || item.qty > kMaxQty) {
      return Invalid(FieldPointer(ItemPointer(i), "qty"), RangeMessage("qty", 1, kMaxQty));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (r.items[j].sku == item.sku) return RepeatedSku(ItemPointer(i), item.sku);
    }
  }
  if (has_ttl && (r.ttl_seconds < 1 || r.ttl_seconds > kMaxTtlSeconds)) {
    return Invalid("/ttl_seconds", RangeMessage("ttl_seconds", 1, kMaxTtlSeconds));
  }
  if (has_customer_id && !IsValidId(r.customer_id)) {
    return Invalid("/customer_id", IdMessage("customer_id"));
  }
  return {};
}

}  // namespace

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

bool ParsePlainReservation(std::string_view body, ReservationRequest* out, Problem* problem) {
  if (body.size() > kMaxBodyBytes) return false;
  PlainReader r(body);
  ReservationRequest req;
  bool order_id = false;
  bool items = false;
  bool ttl = false;
  bool customer_id = false;
  bool confirm = false;
  if (!r.Eat('{')) return false;
  do {
    std::string_view key;
    std::string_view text;
    if (!r.String(&key) || !r.Eat(':')) return false;
    // Each field once; a field that is not plain leaves the body to the full parser.
    bool plain = false;
    if (key == "order_id" && !order_id) {
      plain = order_id = r.String(&text);
      req.order_id = text;
    } else if (key == "items" && !items) {
      plain = items = PlainItems(r, &req.items);
    } else if (key == "ttl_seconds" && !ttl) {
      plain = ttl = r.Integer(&req.ttl_seconds);
    } else if (key == "customer_id" && !customer_id) {
      plain = customer_id = r.String(&text);
      req.customer_id = text;
    } else if (key == "confirm" && !confirm) {
      plain = confirm = r.Bool(&req.confirm);
    }
    if (!plain) return false;
  } while (r.Eat(','));
  // The whole body is read before any field is judged: the full parser reports a syntax error
  // anywhere ahead of every field's problem.
  if (!r.Eat('}') || !r.AtEnd() || !order_id || !items) return false;
  *problem = Judge(req, ttl, customer_id);
  if (problem->ok()) *out = std::move(req);
  return true;
}

Problem ParseReservation(std::string_view body, ReservationRequest* out) {
  Problem problem;
  if (ParsePlainReservation(body, out, &problem)) return problem;
  return ParseFullReservation(body, out);
}

Problem ParseFullReservation(std::string_view body, ReservationRequest* out) {
  json doc;
  if (Problem p = ParseBody(body, false, &doc); !p.ok()) return p;
  ReservationRequest req;
  FieldReader r(doc, "");
  r.AllowOnly({"order_id", "items", "ttl_seconds", "customer_id", "confirm"});
  r.Id("order_id", true, &req.order_id);
  if (const json* items = r.Array("items"); items != nullptr) {
    if (Problem p = ParseItems(*items, &req.items); !p.ok()) return p;
  }
  r.Int("ttl_seconds", false, 1, kMaxTtlSeconds, &req.ttl_seconds);
  r.Id("customer_id", false, &req.customer_id);
  r.Bool("confirm", &req.confirm);
  if (!r.ok()) return r.problem();
  *out = std::move(req);
  return {};
}

Problem ParseExtend(std::string_view body, ExtendRequest* out) {
  json doc;
  if (Problem p = ParseBody(body, false, &doc); !p.ok()) return p;
  ExtendRequest req;
  FieldReader r(doc, "");
  r.AllowOnly({"ttl_seconds"});
  r.Int("ttl_seconds", true, 1, kMaxTtlSeconds, &req.ttl_seconds);
  if (!r.ok()) return r.problem();
  *out = req;
  return {};
}

Problem ParseTransition(std::string_view body, TransitionRequest* out) {
  json doc;
  if (Problem p = ParseBody(body, true, &doc); !p.ok()) return p;
  TransitionRequest req;
  FieldReader r(doc, "");
  r.AllowOnly({"reason"});
  r.Reason(&req.reason);
  if (!r.ok()) return r.problem();
  *out = std::move(req);
  return {};
}

Problem ParseSetStock(std::string_view body, SetStockRequest* out) {
  json doc;
  if (Problem p = ParseBody(body, false, &doc); !p.ok()) return p;
  SetStockRequest req;
  FieldReader r(doc, "");
  r.AllowOnly({"on_hand", "per_customer_limit", "low_stock_threshold", "reason"});
  r.Int("on_hand", true, 0, kMaxOnHand, &req.on_hand);
  std::int64_t limit = -1;
  r.Int("per_customer_limit", false, 0, kMaxPerCustomerLimit, &limit);
  std::int64_t low = -1;
  r.Int("low_stock_threshold", false, 0, kMaxLowStockThreshold, &low);
  r.Reason(&req.reason);
  if (!r.ok()) return r.problem();
  if (limit >= 0) req.per_customer_limit = limit;
  if (low >= 0) req.low_stock_threshold = low;
  *out = std::move(req);
  return {};
}

Problem ParseAdjustment(std::string_view body, std::int64_t max_adjustment,
                        AdjustmentRequest* out) {
  json doc;
  if (Problem p = ParseBody(body, false, &doc); !p.ok()) return p;
  AdjustmentRequest req;
  FieldReader r(doc, "");
  r.AllowOnly({"delta", "request_id", "reason"});
  const std::string range = "delta must be a non-zero integer between " +
                            std::to_string(-max_adjustment) + " and " +
                            std::to_string(max_adjustment);
  r.Int("delta", true, -max_adjustment, max_adjustment, &req.delta, range);
  if (r.ok() && req.delta == 0) r.Fail("delta", range);
  r.Id("request_id", true, &req.request_id);
  r.Reason(&req.reason);
  if (!r.ok()) return r.problem();
  *out = std::move(req);
  return {};
}

namespace {

constexpr std::size_t kMaxSkuDigits = 16;  // kMaxSku has 16 decimal digits

// 1..16 ASCII digits with a value in 1..kMaxSku.
bool ParseSkuDigits(std::string_view text, std::int64_t* out) {
  if (text.empty() || text.size() > kMaxSkuDigits) return false;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > kMaxSku) return false;
  *out = value;
  return true;
}

}  // namespace

Problem ParseSku(std::string_view text, std::int64_t* out) {
  if (!ParseSkuDigits(text, out)) {
    return Invalid("sku", "sku must be an integer between 1 and " + std::to_string(kMaxSku));
  }
  return {};
}

Problem ParseOrderId(std::string_view text, std::string* out) {
  if (!IsValidId(text)) {
    return Invalid("order_id", "order_id must be 1 to 64 characters of A-Z a-z 0-9 . _ : -");
  }
  *out = std::string(text);
  return {};
}

Problem ParseSkuList(std::string_view text, std::vector<std::int64_t>* out) {
  if (text.empty()) return Invalid("skus", "skus must name at least one SKU");
  const auto count = static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1;
  if (count > kMaxSkusPerRead) {
    return Invalid("skus", "skus may name at most " + std::to_string(kMaxSkusPerRead) + " SKUs");
  }
  std::vector<std::int64_t> skus;
  skus.reserve(count);
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::int64_t sku = 0;
    if (!ParseSkuDigits(text.substr(start, comma - start), &sku)) {
      return Invalid("skus", "skus must be a comma-separated list of integers between 1 and " +
                                 std::to_string(kMaxSku));
    }
    if (std::find(skus.begin(), skus.end(), sku) != skus.end()) {
      return Invalid("skus", "sku " + std::to_string(sku) + " appears more than once in skus");
    }
    skus.push_back(sku);
    start = comma + 1;
  }
  *out = std::move(skus);
  return {};
}

Problem Validate(RequestKind kind, std::string_view input) {
  switch (kind) {
    case RequestKind::kReservation: {
      ReservationRequest r;
      return ParseReservation(input, &r);
    }
    case RequestKind::kExtend: {
      ExtendRequest r;
      return ParseExtend(input, &r);
    }
    case RequestKind::kTransition: {
      TransitionRequest r;
      return ParseTransition(input, &r);
    }
    case RequestKind::kSetStock: {
      SetStockRequest r;
      return ParseSetStock(input, &r);
    }
    case RequestKind::kAdjustment: {
      AdjustmentRequest r;
      return ParseAdjustment(input, kDefaultMaxAdjustment, &r);
    }
    case RequestKind::kSku: {
      std::int64_t sku = 0;
      return ParseSku(input, &sku);
    }
    case RequestKind::kOrderId: {
      std::string id;
      return ParseOrderId(input, &id);
    }
    case RequestKind::kSkuList: {
      std::vector<std::int64_t> skus;
      return ParseSkuList(input, &skus);
    }
  }
  return Invalid("", "unknown request kind");
}

bool RequestKindFromName(std::string_view name, RequestKind* out) {
  static constexpr std::pair<std::string_view, RequestKind> kNames[] = {
      {"reservation", RequestKind::kReservation}, {"extend", RequestKind::kExtend},
      {"transition", RequestKind::kTransition},   {"set_stock", RequestKind::kSetStock},
      {"adjustment", RequestKind::kAdjustment},   {"sku", RequestKind::kSku},
      {"order_id", RequestKind::kOrderId},        {"sku_list", RequestKind::kSkuList},
  };
  for (const auto& [n, k] : kNames) {
    if (n == name) {
      *out = k;
      return true;
    }
  }
  return false;
}

}  // namespace stockgate::core
