#include "slotmgr/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/grpc_util.h"
#include "base/log.h"

namespace slotkeeper::slotmgr {

absl::StatusOr<std::unique_ptr<SlotmgrServer>> SlotmgrServer::Start(
    const std::string& listen, Coordinator* core, Clock* clock, std::unique_ptr<PeerLister> peers,
    SlotmgrServerOptions options) {
  absl::Status st = ValidateHostPort(listen, /*allow_port_zero=*/true);
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("--listen: ", st.message()));
  std::unique_ptr<SlotmgrServer> s(new SlotmgrServer());
  s->core_ = core;
  s->agent_ = std::make_unique<AgentServiceImpl>(core, clock, options.policy);
  AgentServiceImpl* agent = s->agent_.get();
  s->automation_ = std::make_unique<AutomationServiceImpl>(
      core, [agent]() { agent->Flush(); }, nullptr, options.policy);
  grpc::EnableDefaultHealthCheckService(true);
  if (options.enable_reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);  // no SO_REUSEPORT: a second coordinator must fail here
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_receive_bytes));
  int port = 0;
  if (absl::Status listening = AddListeningPort(builder, listen, &port); !listening.ok()) {
    return absl::Status(listening.code(), absl::StrCat("--listen: ", listening.message()));
  }
  builder.RegisterService(s->agent_.get());
  builder.RegisterService(s->automation_.get());
  if (options.rpc_metrics != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(options.rpc_metrics->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen,
                     ": the address is in use (another slotmgrd?) or not available here"));
  }
  s->address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  // A second opinion must not wait long on a dead host: it then counts as
  // unreadable.
  s->opinion_peers_ = peers != nullptr ? std::move(peers) : MakeGrpcPeerLister(absl::Seconds(5));
  s->opinions_ = std::make_unique<SecondOpinionWorker>(core, s->opinion_peers_.get());
  s->opinions_->Start();
  return s;
}

SlotmgrServer::~SlotmgrServer() { Shutdown(); }

void SlotmgrServer::TickAndFlush() {
  absl::Status st = core_->Tick();
  if (!st.ok()) LogError("coordinator", absl::StrCat("tick: ", st.ToString()));
  agent_->Flush();
}

void SlotmgrServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (opinions_ != nullptr) opinions_->Stop();
  if (automation_ != nullptr) automation_->Shutdown();
  if (server_ == nullptr) return;  // it never started listening
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
}

}  // namespace slotkeeper::slotmgr
