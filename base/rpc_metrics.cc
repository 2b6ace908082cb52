#include "base/rpc_metrics.h"

#include <chrono>
#include <utility>

namespace slotkeeper {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Buckets from 1 ms to 10 s, for calls that read or change the model.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* b = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *b;
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(RpcMetrics* metrics, grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics),
        method_(info->method() != nullptr ? info->method() : ""),
        unary_(info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY),
        start_(std::chrono::steady_clock::now()) {}

  // A call whose status was never sent ended by cancellation.
  ~MetricsInterceptor() override {
    if (!recorded_) RecordNow(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      RecordNow(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void RecordNow(grpc::StatusCode code) {
    recorded_ = true;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_->Record(method_, unary_, code, elapsed.count());
  }

  RpcMetrics* const metrics_;
  const std::string method_;
  const bool unary_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);
  }

 private:
  RpcMetrics* const metrics_;
};

}  // namespace

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

RpcMetrics::RpcMetrics(prometheus::Registry& registry)
    : handled_(prometheus::BuildCounter()
                   .Name("slotkeeper_grpc_server_handled_total")
                   .Help("gRPC calls finished, by method and status code.")
                   .Register(registry)),
      handling_(prometheus::BuildHistogram()
                    .Name("slotkeeper_grpc_server_handling_seconds")
                    .Help("Time from a unary call's start to its status, by method.")
                    .Register(registry)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

void RpcMetrics::Record(absl::string_view full_method, bool unary, grpc::StatusCode code,
                        double seconds) {
  // "/pkg.Service/Method" -> service "pkg.Service", method "Method".
  std::string service = "other", method = "other";
  const size_t slash = full_method.rfind('/');
  if (slash != absl::string_view::npos && slash > 1 && full_method[0] == '/') {
    absl::MutexLock lock(&mu_);
    const std::string name(full_method);
    if (methods_.count(name) > 0 || methods_.size() < kMaxMethods) {
      methods_.insert(name);
      service = std::string(full_method.substr(1, slash - 1));
      method = std::string(full_method.substr(slash + 1));
    }
  }
  handled_.Add({{"service", service}, {"method", method}, {"code", GrpcCodeName(code)}})
      .Increment();
  if (unary) {
    handling_.Add({{"service", service}, {"method", method}}, LatencyBuckets()).Observe(seconds);
  }
}

}  // namespace slotkeeper
