// Status and Result<T>: runguard's one error convention.
//
// Every fallible function returns a [[nodiscard]] Status (no value) or Result<T> (a value or a
// Status). A Status carries a code, a lowercase message that names the file/field/value involved
// and says what to do, and the errno that caused it (0 if none). Callers add context on the way
// up with `with_context("reading /x")`, which prefixes the message: "reading /x: <message>".
// Exceptions from third-party libraries are caught in the adapter that calls them and turned into
// Status values; they never cross a module boundary.
//
// Thread-safety: plain values; safe to copy and move between threads.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace runguard {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad input: policy, config.json, argv, a user-supplied file
  kNotFound,         // a file, runtime or container that should exist does not
  kDenied,           // the policy refused the container
  kIo,               // an OS call failed
  kUnavailable,      // a dependency (runtime, agent) is missing or not answering
  kInternal,         // a bug: an invariant did not hold
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, int err = 0)
      : code_(code), message_(std::move(message)), errno_(err) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  int error_number() const { return errno_; }

  // Prefixes the message with `context: `. Returns *this for chaining.
  Status& with_context(const std::string& context) & {
    if (!is_ok()) message_ = context + ": " + message_;
    return *this;
  }
  Status&& with_context(const std::string& context) && {
    if (!is_ok()) message_ = context + ": " + message_;
    return std::move(*this);
  }

  // "message" plus ": strerror(errno)" when an errno is attached.
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int errno_ = 0;
};

// Builds a Status for a failed OS call, keeping errno: io_error("open /x") -> "open /x: <strerror>".
Status io_error(const std::string& what, int err);
Status invalid(const std::string& message);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {     // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).is_ok()) v_ = Status(Code::kInternal, "ok status used as an error");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(v_);
  }
  Status take_status() && { return is_ok() ? Status() : std::move(std::get<Status>(v_)); }

  T& value() & { check(); return std::get<T>(v_); }
  const T& value() const& { check(); return std::get<T>(v_); }
  T&& value() && { check(); return std::move(std::get<T>(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void check() const {
    if (!is_ok()) std::abort();  // reading the value of a failed Result is a programming error
  }
  std::variant<T, Status> v_;
};

}  // namespace runguard

// Propagates a failed Status from an expression returning Status.
#define RG_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::runguard::Status rg_status_ = (expr);      \
    if (!rg_status_.is_ok()) return rg_status_;  \
  } while (0)

#define RG_CONCAT_INNER(a, b) a##b
#define RG_CONCAT(a, b) RG_CONCAT_INNER(a, b)
// Declares `lhs` from a Result<T> expression, or returns its Status.
#define RG_ASSIGN_OR_RETURN(lhs, expr) RG_ASSIGN_OR_RETURN_IMPL(RG_CONCAT(rg_result_, __LINE__), lhs, expr)
#define RG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.is_ok()) return std::move(tmp).take_status(); \
  lhs = std::move(tmp).value()
