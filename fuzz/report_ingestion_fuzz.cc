// Fuzz target: what a coordinator does with an agent's messages. One
// coordinator on a real RocksDB (a temporary directory) with a fake clock
// and one registered host (imap1, two units, two slots each) lives for the
// whole run; each input is parsed as a v1::AgentMessage from imap1's
// session and handled as slotmgr/agent_service.cc does: CheckMessageLimits,
// then ApplyReport / ApplyAck / ApplyTaskUpdate, then the commands it
// caused are taken and time advances by a second (Tick). Nothing may
// crash, and the model must still be one BuildView accepts.
//
// The model carries over from input to input (as from message to message
// of a session); a crash input may need the inputs before it to reproduce.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/clock.h"
#include "fuzz/fuzz_util.h"
#include "proto/agent.pb.h"
#include "proto/message_limits.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/state_store.h"
#include "slotmgr/testing/coordinator_fixture.h"
#include "slotmgr/view_builder.h"

namespace slotkeeper::fuzz {
namespace {

using slotmgr::Coordinator;

struct Cluster {
  Cluster() {
    auto opened = slotmgr::RocksStateStore::Open(MakeTempDir("report_ingestion_fuzz"));
    FUZZ_CHECK(opened.ok(), "%s", opened.status().ToString().c_str());
    store = std::move(*opened);
    auto created = Coordinator::Create(store.get(), &clock, slotmgr::CoordinatorConfig());
    FUZZ_CHECK(created.ok(), "%s", created.status().ToString().c_str());
    coord = std::move(*created);
    v1::RegisterRequest req;
    *req.mutable_inventory() = slotmgr::testing::MakeInventory(kHost);
    req.set_agent_time_ms(clock.NowMs());
    auto registered = coord->Register(req);
    FUZZ_CHECK(registered.ok(), "%s", registered.status().ToString().c_str());
    session = registered->session_id();
    v1::SessionHello hello;
    hello.set_host(kHost);
    hello.set_session_id(session);
    FUZZ_CHECK(coord->Hello(hello).ok(), "hello refused");
  }

  // As AgentServiceImpl's session handles a message after its hello.
  absl::Status Handle(const v1::AgentMessage& m) {
    if (absl::Status s = CheckMessageLimits(m, MessageLimits(), "AgentMessage"); !s.ok()) return s;
    switch (m.body_case()) {
      case v1::AgentMessage::kReport:
        return coord->ApplyReport(kHost, session, m.report()).status();
      case v1::AgentMessage::kAck:
        return coord->ApplyAck(kHost, m.ack());
      case v1::AgentMessage::kTaskUpdate:
        return coord->ApplyTaskUpdate(kHost, m.task_update());
      default:
        return absl::InvalidArgumentError("not a message of a running session");
    }
  }

  static constexpr char kHost[] = "imap1";
  FakeClock clock;
  std::unique_ptr<slotmgr::RocksStateStore> store;
  std::unique_ptr<Coordinator> coord;
  std::string session;
};

}  // namespace
}  // namespace slotkeeper::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using slotkeeper::fuzz::Cluster;
  static Cluster* const cluster = new Cluster();
  slotkeeper::v1::AgentMessage m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return -1;  // not kept in the corpus
  (void)cluster->Handle(m);
  (void)cluster->coord->TakeCommandsToSend(Cluster::kHost);
  cluster->clock.Advance(absl::Seconds(1));
  (void)cluster->coord->Tick();
  absl::StatusOr<slotkeeper::slotmgr::ClusterView> view =
      slotkeeper::slotmgr::BuildView(cluster->coord->queries().TEST_Model(), {});
  FUZZ_CHECK(view.ok(), "model refused by BuildView: %s", view.status().ToString().c_str());
  return 0;
}
