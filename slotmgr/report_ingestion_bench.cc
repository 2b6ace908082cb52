// Benchmark: heartbeat report ingestion in the coordinator core (no gRPC).
//
//   bazel run -c opt //slotmgr:report_ingestion_bench
//
// A cluster of 100 hosts x 40 slots (2 units, 20 slots each) with 1,300
// stores of 3 copies; each report carries the host's filesystems, slot usage
// and one replication status per copy it holds, as a real agent's does. The
// steady state (nothing changed) is the common case; the second benchmark
// flips a condition on every report, which forces a re-derivation and a
// synced RocksDB write (the rare case).
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "benchmark/benchmark.h"
#include "slotmgr/coordinator.h"
#include "slotmgr/operator_actions.h"
#include "slotmgr/state_store.h"

namespace slotkeeper::slotmgr {
namespace {

constexpr int kHosts = 100;
constexpr int kSlotsPerUnit = 20;

v1::HostInventory Inventory(int h) {
  v1::HostInventory inv;
  inv.set_host(absl::StrCat("imap", h));
  inv.set_peer_address(absl::StrCat("10.0.0.", h, ":7400"));
  int n = 0;
  for (int u = 1; u <= 2; ++u) {
    inv.add_units()->set_name(absl::StrCat("du", u));
    v1::Filesystem* fs = inv.add_filesystems();
    fs->set_mount_point(absl::StrCat("/srv/du", u));
    fs->set_unit(absl::StrCat("du", u));
    for (int s = 0; s < kSlotsPerUnit; ++s) {
      v1::Slot* slot = inv.add_slots();
      slot->set_name(absl::StrCat("s", ++n));
      slot->set_path(absl::StrCat(fs->mount_point(), "/", slot->name()));
      slot->set_filesystem(fs->mount_point());
      slot->set_capacity_bytes(1ull << 40);
    }
  }
  return inv;
}

struct Cluster {
  FakeClock clock;
  std::unique_ptr<RocksStateStore> store;
  std::unique_ptr<Coordinator> core;
  std::vector<std::string> sessions;
  std::vector<std::string> names;
  std::vector<v1::HealthReport> reports;  // one per host, steady state
};

Cluster* MakeCluster() {
  static Cluster* c = [] {
    auto* cl = new Cluster();
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/slotmgr_bench_",
                                         static_cast<long>(::getpid()));
    if (std::system(("rm -rf " + dir).c_str()) != 0) std::abort();
    cl->store = std::move(*RocksStateStore::Open(dir, /*sync_writes=*/true));
    CoordinatorConfig config;
    cl->core = std::move(*Coordinator::Create(cl->store.get(), &cl->clock, config));
    for (int h = 0; h < kHosts; ++h) {
      v1::RegisterRequest req;
      *req.mutable_inventory() = Inventory(h);
      cl->sessions.push_back(cl->core->Register(req)->session_id());
      cl->names.push_back(req.inventory().host());
    }
    // 1,300 stores: master on host i, replicas on i+1 and i+2 (slots rotate).
    for (int s = 0; s < 1300; ++s) {
      v1::CreateStoreRequest cs;
      cs.set_store(absl::StrCat("st", s));
      const int h = s % kHosts, slot = s / kHosts + 1;
      cs.mutable_master()->set_host(absl::StrCat("imap", h));
      cs.mutable_master()->set_slot(absl::StrCat("s", slot));
      for (int r = 1; r <= 2; ++r) {
        v1::SlotRef* ref = cs.add_replicas();
        ref->set_host(absl::StrCat("imap", (h + r) % kHosts));
        ref->set_slot(absl::StrCat("s", 13 * r + slot));
      }
      auto st = slotmgr::CreateStore(*cl->core, cs);
      if (!st.ok()) std::abort();
    }
    ClusterModel model = cl->core->queries().TEST_Model();
    for (int h = 0; h < kHosts; ++h) {
      const v1::HostInfo& hi = model.hosts[absl::StrCat("imap", h)].info();
      v1::HealthReport r;
      r.set_agent_time_ms(cl->clock.NowMs());
      for (const auto& f : hi.filesystems()) {
        v1::FilesystemUsage* u = r.add_filesystems();
        u->set_mount_point(f.mount_point());
        u->set_total_bytes(40ull << 40);
        u->set_free_bytes(20ull << 40);
      }
      for (const auto& s : hi.slots()) {
        v1::SlotUsage* u = r.add_slots();
        u->set_slot(s.ref().slot());
        u->set_used_bytes(1ull << 30);
        if (s.store().empty()) continue;
        v1::ReplicationStatus* rs = r.add_replication();
        rs->set_slot(s.ref().slot());
        rs->set_store(s.store());
        rs->set_role(s.role());
        rs->set_in_sync(true);
      }
      cl->reports.push_back(r);
    }
    return cl;
  }();
  return c;
}

void BM_SteadyStateReport(benchmark::State& state) {
  Cluster* c = MakeCluster();
  int h = 0;
  uint64_t id = 0;
  for (auto _ : state) {
    v1::HealthReport& r = c->reports[h];
    r.set_report_id(++id);
    auto renewal = c->core->ApplyReport(c->names[h], c->sessions[h], r);
    benchmark::DoNotOptimize(renewal);
    if (++h == kHosts) h = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SteadyStateReport);

void BM_ReportWithConditionChange(benchmark::State& state) {
  Cluster* c = MakeCluster();
  int h = 0;
  bool low = false;
  for (auto _ : state) {
    v1::HealthReport r = c->reports[h];
    if (low) {  // a soft condition: re-derives health and persists, but fails nothing over
      v1::Condition* cond = r.add_conditions();
      cond->set_type(v1::LOW_SPACE);
      cond->set_subject_kind(v1::SUBJECT_FILESYSTEM);
      cond->set_subject("/srv/du1");
    }
    auto renewal = c->core->ApplyReport(c->names[h], c->sessions[h], r);
    benchmark::DoNotOptimize(renewal);
    if (++h == kHosts) {
      h = 0;
      low = !low;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReportWithConditionChange);

// One ticker round with nothing to do: silence check, the mass-failure brake
// (which builds the planners' ClusterView), failover and placement scans.
void BM_IdleTick(benchmark::State& state) {
  Cluster* c = MakeCluster();
  for (auto _ : state) {
    absl::Status st = c->core->Tick();
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_IdleTick)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace slotkeeper::slotmgr

BENCHMARK_MAIN();
