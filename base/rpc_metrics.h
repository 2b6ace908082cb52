// Per-method gRPC server metrics, recorded by a server interceptor
// (grpc::experimental, gRPC 1.51): every call counted by method and status
// code, unary calls' handling time in a histogram (a stream's duration is
// its session's length, not a latency, so streams are only counted).
//
//   slotkeeper_grpc_server_handled_total{service, method, code}
//   slotkeeper_grpc_server_handling_seconds{service, method}   (unary)
//
// The method label comes from the server's own method table, but a server
// may still see names a caller made up; past kMaxMethods distinct names the
// rest are counted as method="other", so a hostile caller cannot grow the
// exposition.
//
// Time is measured on std::chrono::steady_clock: a measurement, not a
// decision, and finer than base/clock.h's milliseconds.
//
// Thread-safe. The registry must outlive the RpcMetrics, and the RpcMetrics
// every server built with its interceptor factory.
#ifndef SLOTKEEPER_BASE_RPC_METRICS_H_
#define SLOTKEEPER_BASE_RPC_METRICS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace slotkeeper {

// "OK", "CANCELLED", ... as grpc::StatusCode names them.
const char* GrpcCodeName(grpc::StatusCode code);

class RpcMetrics {
 public:
  static constexpr size_t kMaxMethods = 100;

  explicit RpcMetrics(prometheus::Registry& registry);

  // A factory for grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // One finished call of `full_method` ("/pkg.Service/Method").
  void Record(absl::string_view full_method, bool unary, grpc::StatusCode code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  absl::Mutex mu_;
  std::set<std::string> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_RPC_METRICS_H_
