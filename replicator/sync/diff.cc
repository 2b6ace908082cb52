#include "replicator/sync/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "absl/strings/str_format.h"
#include "replicator/sync/maildir.h"

namespace slotkeeper::sync {
namespace {

std::unordered_map<std::string, const ManifestEntry*> ByPath(const Manifest& m) {
  std::unordered_map<std::string, const ManifestEntry*> out;
  out.reserve(m.size());
  for (const ManifestEntry& e : m) out.emplace(e.path(), &e);
  return out;
}

}  // namespace

UserPlan PlanUserSync(const Manifest& source_all, const Manifest& local_all,
                      const GuardOptions& guard) {
  UserPlan plan;
  // Directories apart: they are created or (when empty) removed, never
  // renamed or fetched.
  Manifest source, local;
  std::set<std::string> source_dirs, local_dirs;
  for (const ManifestEntry& e : source_all) {
    if (e.directory()) {
      source_dirs.insert(e.path());
    } else {
      source.push_back(e);
    }
  }
  for (const ManifestEntry& e : local_all) {
    if (e.directory()) {
      local_dirs.insert(e.path());
    } else {
      local.push_back(e);
    }
  }
  for (const ManifestEntry& e : source_all) {
    if (e.directory() && !local_dirs.count(e.path())) plan.mkdirs.push_back(e);
  }
  for (const std::string& d : local_dirs) {
    if (!source_dirs.count(d)) plan.rmdirs.push_back(d);
  }
  // Deepest first.
  std::stable_sort(
      plan.rmdirs.begin(), plan.rmdirs.end(), [](const std::string& a, const std::string& b) {
        return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
      });
  const auto source_by_path = ByPath(source);
  const auto local_by_path = ByPath(local);

  // Local files whose current path will not keep them: candidates for
  // renames, else quarantine. Indexed by content hash and Maildir key.
  std::unordered_multimap<std::string, const ManifestEntry*> leaving_by_hash;
  std::unordered_multimap<std::string, const ManifestEntry*> leaving_by_key;
  for (const ManifestEntry& e : local) {
    if (IsMaildirMessage(e.path())) plan.local_messages++;
    auto it = source_by_path.find(e.path());
    if (it != source_by_path.end() && it->second->hash() == e.hash()) continue;
    leaving_by_hash.emplace(e.hash(), &e);
    std::string key = MaildirUniqueKey(e.path());
    if (!key.empty()) leaving_by_key.emplace(std::move(key), &e);
  }
  std::set<std::string> used;  // local paths consumed by renames

  for (const ManifestEntry& want : source) {
    auto it = local_by_path.find(want.path());
    if (it != local_by_path.end() && it->second->hash() == want.hash()) {
      if (it->second->mtime_ns() != want.mtime_ns() || it->second->mode() != want.mode()) {
        plan.metadata_fixes.push_back(want);
      }
      continue;
    }
    // Prefer the same Maildir message (same unique part, same content), then
    // any leaving file with the same content.
    const ManifestEntry* donor = nullptr;
    std::string key = MaildirUniqueKey(want.path());
    if (!key.empty()) {
      auto [b, e] = leaving_by_key.equal_range(key);
      for (auto i = b; i != e && donor == nullptr; ++i) {
        if (i->second->hash() == want.hash() && !used.count(i->second->path())) donor = i->second;
      }
    }
    if (donor == nullptr) {
      auto [b, e] = leaving_by_hash.equal_range(want.hash());
      for (auto i = b; i != e && donor == nullptr; ++i) {
        if (!used.count(i->second->path())) donor = i->second;
      }
    }
    if (donor != nullptr) {
      used.insert(donor->path());
      plan.renames.push_back({donor->path(), want, donor->mtime_ns(), donor->mode()});
    } else {
      plan.fetches.push_back(want);
      plan.fetch_bytes += want.size();
    }
  }
  for (const auto& [hash, entry] : leaving_by_hash) {
    if (used.count(entry->path())) continue;
    plan.quarantines.push_back(entry->path());
    // A file overwritten at the same path is not a removed message.
    if (IsMaildirMessage(entry->path()) && !source_by_path.count(entry->path())) {
      plan.removed_messages++;
    }
  }
  std::sort(plan.quarantines.begin(), plan.quarantines.end());
  if (plan.removed_messages >= guard.min_removals_to_block &&
      static_cast<double>(plan.removed_messages) >
          guard.max_removal_share * static_cast<double>(plan.local_messages)) {
    plan.blocked = true;
    plan.blocked_reason = absl::StrFormat(
        "mass-deletion guard: sync would remove %d of %d messages (more than "
        "%.0f%%); nothing changed",
        plan.removed_messages, plan.local_messages, guard.max_removal_share * 100);
  }
  return plan;
}

std::vector<Difference> CompareManifests(const Manifest& master, const Manifest& replica) {
  std::vector<Difference> out;
  const auto replica_by_path = ByPath(replica);
  const auto master_by_path = ByPath(master);
  for (const ManifestEntry& e : master) {
    auto it = replica_by_path.find(e.path());
    if (it == replica_by_path.end()) {
      out.push_back({Difference::kMissingOnReplica, e.path()});
    } else if (it->second->hash() != e.hash()) {
      out.push_back({Difference::kContentDiffers, e.path()});
    }
  }
  for (const ManifestEntry& e : replica) {
    if (!master_by_path.count(e.path())) {
      out.push_back({Difference::kExtraOnReplica, e.path()});
    }
  }
  return out;
}

const char* DifferenceKindName(Difference::Kind kind) {
  switch (kind) {
    case Difference::kMissingOnReplica:
      return "missing on replica";
    case Difference::kExtraOnReplica:
      return "extra on replica";
    case Difference::kContentDiffers:
      return "content differs";
  }
  return "?";
}

}  // namespace slotkeeper::sync
