// Result<T>: what every fallible call in stockgate returns, from the Redis store and the MariaDB
// history to sync and the server's set-up. Either a value, or an Error: a Code (the same table the
// HTTP API answers with) and a message for logs or the caller. Result<void> is the value-less form.
// The domain answers of the inventory (StockResult, ReservationResult) speak the same Codes but
// stay structs: a refusal there still carries details (fail_items, the current state).
#ifndef STOCKGATE_CORE_RESULT_H_
#define STOCKGATE_CORE_RESULT_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "core/status.h"

namespace stockgate::core {

struct Error {
  Code code = Code::kUnavailable;  // never kOk
  std::string message;
};

// Reading the value of a failed Result, or the error of a good one, is a bug in the caller: it
// stops the process in every build rather than read what is not there.
[[noreturn]] inline void ResultMisuse(const char* what) {
  std::fputs(what, stderr);
  std::fputc('\n', stderr);
  std::abort();
}

// Shorthand for a failed Result of any T: `return Fail(Code::kInvalidRequest, "why");`.
inline Error Fail(Code code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}     // NOLINT(google-explicit-constructor)
  Result(Error error) : error_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    if (error_.code == Code::kOk) ResultMisuse("stockgate: a Result failed with Code::kOk");
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  Code code() const { return ok() ? Code::kOk : error_.code; }
  // Why it failed; empty when ok.
  const std::string& error() const { return error_.message; }
  // The error as it is, to pass on: `if (!r) return r.failure();`.
  const Error& failure() const {
    if (ok()) ResultMisuse("stockgate: failure() of a Result that is ok");
    return error_;
  }

  // The value; only when ok.
  T& value() & {
    if (!ok()) ResultMisuse("stockgate: value() of a failed Result");
    return *value_;
  }
  const T& value() const& {
    if (!ok()) ResultMisuse("stockgate: value() of a failed Result");
    return *value_;
  }
  T&& value() && {
    if (!ok()) ResultMisuse("stockgate: value() of a failed Result");
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Error error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)  // NOLINT(google-explicit-constructor)
      : ok_(false), error_(std::move(error)) {
    if (error_.code == Code::kOk) ResultMisuse("stockgate: a Result failed with Code::kOk");
  }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  Code code() const { return ok_ ? Code::kOk : error_.code; }
  const std::string& error() const { return error_.message; }
  const Error& failure() const {
    if (ok_) ResultMisuse("stockgate: failure() of a Result that is ok");
    return error_;
  }

 private:
  bool ok_ = true;
  Error error_;
};

// The outcome of a call that returns nothing but can fail.
using Status = Result<void>;

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_RESULT_H_
