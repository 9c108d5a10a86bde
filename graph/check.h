// Internal invariant checks. A failed ADC_CHECK is a bug in adc itself, never a
// user error: user mistakes are reported with absl::Status (see DESIGN.md).
#ifndef ADC_GRAPH_CHECK_H_
#define ADC_GRAPH_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace adc::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line,
                                     const char* cond, const char* msg) {
  std::fprintf(stderr, "%s:%d: internal error: check failed: %s %s\n", file,
               line, cond, msg);
  std::abort();
}
}  // namespace adc::internal

#define ADC_CHECK(cond)                                                       \
  do {                                                                        \
    if (!(cond)) ::adc::internal::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

#define ADC_CHECK_MSG(cond, msg)                              \
  do {                                                        \
    if (!(cond))                                              \
      ::adc::internal::CheckFailed(__FILE__, __LINE__, #cond, \
                                   std::string(msg).c_str()); \
  } while (0)

// Propagates a non-OK absl::Status.
#define ADC_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status adc_status_ = (expr);       \
    if (!adc_status_.ok()) return adc_status_; \
  } while (0)

#define ADC_CONCAT_IMPL(a, b) a##b
#define ADC_CONCAT(a, b) ADC_CONCAT_IMPL(a, b)

// ADC_ASSIGN_OR_RETURN(auto x, StatusOrExpr());
#define ADC_ASSIGN_OR_RETURN(lhs, expr) \
  ADC_ASSIGN_OR_RETURN_IMPL(ADC_CONCAT(adc_statusor_, __LINE__), lhs, expr)
#define ADC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // ADC_GRAPH_CHECK_H_
