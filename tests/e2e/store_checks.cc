#include "tests/e2e/store_checks.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace slotkeeper::testing {
namespace {

SlotContent WithoutSyncTemporaries(SlotContent content) {
  for (auto& [user, messages] : content) {
    for (auto it = messages.begin(); it != messages.end();) {
      it = absl::StartsWith(it->first, "maildir:.") ? messages.erase(it) : std::next(it);
    }
  }
  return content;
}

}  // namespace

absl::StatusOr<SlotContent> ReadWhileSyncing(const std::string& slot) {
  absl::Status last;
  for (int attempt = 0; attempt < 50; ++attempt) {
    try {
      absl::StatusOr<SlotContent> content = ReadSlotContent(slot);
      if (content.ok()) return WithoutSyncTemporaries(*std::move(content));
      last = content.status();
    } catch (const std::exception& e) {
      last = absl::InternalError(e.what());
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return last;
}

absl::StatusOr<SlotContent> WaitForCopiesToMatchMaster(Cluster& cluster, const std::string& store,
                                                       absl::Duration timeout,
                                                       const std::vector<std::string>& skip) {
  absl::StatusOr<v1::StoreInfo> info = cluster.Store(store);
  if (!info.ok()) return info.status();
  const v1::Copy* master = MasterCopyOf(*info);
  if (master == nullptr) return absl::FailedPreconditionError(store + " has no master");
  absl::StatusOr<SlotContent> expected =
      ReadWhileSyncing(cluster.SlotPath(master->slot().host(), master->slot().slot()));
  if (!expected.ok()) return expected.status();
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> problems;
  do {
    problems.clear();
    info = cluster.Store(store);
    if (!info.ok()) {
      problems.push_back(info.status().ToString());
    } else {
      for (const v1::Copy& c : info->copies()) {
        const std::string name = absl::StrCat(c.slot().host(), "/", c.slot().slot());
        if (c.role() == v1::SLOT_LOST || c.role() == v1::SLOT_MASTER ||
            std::find(skip.begin(), skip.end(), name) != skip.end()) {
          continue;
        }
        absl::StatusOr<SlotContent> content =
            ReadWhileSyncing(cluster.SlotPath(c.slot().host(), c.slot().slot()));
        if (!content.ok()) {
          problems.push_back(absl::StrCat(name, ": ", content.status().ToString()));
          continue;
        }
        for (const std::string& p : MissingFrom(*expected, *content)) {
          problems.push_back(absl::StrCat(name, ": ", p));
        }
      }
    }
    if (problems.empty()) return expected;
    absl::SleepFor(absl::Milliseconds(250));
  } while (absl::Now() < deadline);
  std::string text;
  for (size_t i = 0; i < problems.size() && i < 10; ++i) absl::StrAppend(&text, "\n", problems[i]);
  return absl::DeadlineExceededError(
      absl::StrCat("copies of ", store, " still lack the master's mail after ",
                   absl::FormatDuration(timeout), " (", problems.size(), " problems):", text));
}

std::vector<std::string> CheckCopiesHave(Cluster& cluster, const std::string& store,
                                         const SlotContent& expected,
                                         const std::vector<std::string>& skip) {
  std::vector<std::string> problems;
  absl::StatusOr<v1::StoreInfo> info = cluster.Store(store);
  if (!info.ok()) return {info.status().ToString()};
  for (const v1::Copy& c : info->copies()) {
    const std::string name = absl::StrCat(c.slot().host(), "/", c.slot().slot());
    if (c.role() == v1::SLOT_LOST || std::find(skip.begin(), skip.end(), name) != skip.end()) {
      continue;
    }
    absl::StatusOr<SlotContent> content =
        ReadWhileSyncing(cluster.SlotPath(c.slot().host(), c.slot().slot()));
    if (!content.ok()) {
      problems.push_back(absl::StrCat(name, ": ", content.status().ToString()));
      continue;
    }
    for (const std::string& p : MissingFrom(expected, *content)) {
      problems.push_back(absl::StrCat(store, " on ", name, ": ", p));
    }
  }
  return problems;
}

absl::StatusOr<v1::StoreInfo> WaitForNewMaster(Cluster& cluster, const std::string& store,
                                               uint64_t epoch, const std::string& old_master,
                                               absl::Duration timeout) {
  v1::StoreInfo found;
  absl::Status s = cluster.WaitForStore(
      store,
      [&](const v1::StoreInfo& info) {
        const v1::Copy* m = MasterCopyOf(info);
        if (m == nullptr || !m->usable() || !m->serving() || info.master_epoch() <= epoch ||
            MasterOf(info) == old_master) {
          return false;
        }
        found = info;
        return true;
      },
      timeout,
      absl::StrCat("a new serving master (epoch above ", epoch, ", not ", old_master, ")"));
  if (!s.ok()) return s;
  return found;
}

::testing::AssertionResult NoProblems(const std::vector<std::string>& problems) {
  if (problems.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << absl::StrJoin(problems, "\n").substr(0, 2000);
}

std::string HostOf(const std::string& host_slot) {
  return host_slot.substr(0, host_slot.find('/'));
}

std::string SlotOf(const std::string& host_slot) {
  const size_t slash = host_slot.find('/');
  return slash == std::string::npos ? "" : host_slot.substr(slash + 1);
}

const v1::Copy* MasterCopyOf(const v1::StoreInfo& store) {
  for (const v1::Copy& c : store.copies()) {
    if (c.role() == v1::SLOT_MASTER) return &c;
  }
  return nullptr;
}

const v1::Copy* CopyAt(const v1::StoreInfo& store, const std::string& host_slot) {
  for (const auto& c : store.copies()) {
    if (SlotName(c) == host_slot) return &c;
  }
  return nullptr;
}

std::string SlotName(const v1::Copy& copy) {
  return absl::StrCat(copy.slot().host(), "/", copy.slot().slot());
}

std::vector<std::string> ReplicasOf(const v1::StoreInfo& store) {
  std::vector<std::string> out;
  for (const auto& c : store.copies()) {
    if (c.role() == v1::SLOT_REPLICA) out.push_back(SlotName(c));
  }
  return out;
}

absl::StatusOr<v1::SlotInfo> SlotInfoOf(Cluster& cluster, const std::string& host,
                                        const std::string& slot) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListHostsResponse resp;
  grpc::Status st = cluster.api().ListHosts(&ctx, {}, &resp);
  if (!st.ok()) return absl::UnavailableError(st.error_message());
  for (const v1::HostInfo& h : resp.hosts()) {
    if (h.name() != host) continue;
    for (const v1::SlotInfo& s : h.slots()) {
      if (s.ref().slot() == slot) return s;
    }
  }
  return absl::NotFoundError(absl::StrCat("no slot ", host, "/", slot));
}

}  // namespace slotkeeper::testing
