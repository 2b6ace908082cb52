#include "tests/e2e/automation_faults.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/grpc_util.h"

namespace slotkeeper::testing {

absl::StatusOr<v1::AutomationState> GetAutomation(Cluster& cluster) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::AutomationState state;
  grpc::Status st = cluster.api().GetAutomation(&ctx, {}, &state);
  if (!st.ok()) return FromGrpcStatus(st);
  return state;
}

absl::StatusOr<std::vector<v1::Event>> EventsOfKind(Cluster& cluster, const std::string& kind,
                                                    const std::string& host) {
  absl::StatusOr<std::vector<v1::Event>> all = ListAllEvents(cluster);
  if (!all.ok()) return all.status();
  std::vector<v1::Event> out;
  for (const v1::Event& e : *all) {
    if (e.kind() == kind && (host.empty() || e.host() == host)) out.push_back(e);
  }
  return out;
}

absl::StatusOr<uint64_t> BytesWrittenTo(const LoopFilesystem& fs) {
  const std::string path = absl::StrCat("/sys/block/", fs.device_name(), "/stat");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  // Fields: reads, merged, sectors read, ms, writes, merged, sectors written.
  uint64_t v[7] = {};
  for (uint64_t& x : v) in >> x;
  if (!in) return absl::DataLossError(absl::StrCat("unexpected contents of ", path));
  return v[6] * 512;
}

absl::StatusOr<v1::UnitInfo> UnitOf(Cluster& cluster, const std::string& host,
                                    const std::string& unit) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetHostRequest req;
  req.set_host(host);
  v1::HostInfo info;
  grpc::Status st = cluster.api().GetHost(&ctx, req, &info);
  if (!st.ok()) return FromGrpcStatus(st);
  for (const v1::UnitInfo& u : info.units()) {
    if (u.name() == unit) return u;
  }
  return absl::NotFoundError(absl::StrCat("no unit ", host, "/", unit));
}

bool HasCopyOnUnit(const v1::StoreInfo& store, const std::string& host, const std::string& unit) {
  for (const v1::Copy& c : store.copies()) {
    if (c.slot().host() == host && absl::StartsWith(c.slot().slot(), unit + "s")) return true;
  }
  return false;
}

}  // namespace slotkeeper::testing
