#include "replicator/sync/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "replicator/sync/maildir.h"

namespace slotkeeper::sync {
namespace {

std::unordered_map<std::string, const ManifestEntry*> ByPath(const Manifest& m) {
  std::unordered_map<std::string, const ManifestEntry*> out;
  out.reserve(m.size());
  for (const ManifestEntry& e : m) out.emplace(e.path(), &e);
  return out;
}

using ByPathIndex = std::unordered_map<std::string, const ManifestEntry*>;

// The regular files of a manifest: directories are created or (when empty)
// removed, never renamed or fetched.
Manifest FilesOnly(const Manifest& all) {
  Manifest out;
  for (const ManifestEntry& e : all) {
    if (!e.directory()) out.push_back(e);
  }
  return out;
}

// Whether a local file or directory lacks the source's metadata: mtime
// (files only), permission bits, and the owner when owners are compared.
bool MetadataDiffers(const ManifestEntry& local, const ManifestEntry& want,
                     const PlanOptions& options) {
  if (!want.directory() && local.mtime_ns() != want.mtime_ns()) return true;
  if ((local.mode() & kPermissionBits) != (want.mode() & kPermissionBits)) return true;
  return options.compare_owner && (local.uid() != want.uid() || local.gid() != want.gid());
}

// Directories to create (in source order), to fix (mode, owner) and
// local-only ones to remove, deepest first.
void PlanDirectories(const Manifest& source_all, const Manifest& local_all,
                     const PlanOptions& options, UserPlan* plan) {
  std::set<std::string> source_dirs;
  std::unordered_map<std::string, const ManifestEntry*> local_dirs;
  for (const ManifestEntry& e : source_all) {
    if (e.directory()) source_dirs.insert(e.path());
  }
  for (const ManifestEntry& e : local_all) {
    if (e.directory()) local_dirs.emplace(e.path(), &e);
  }
  for (const ManifestEntry& e : source_all) {
    if (!e.directory()) continue;
    auto it = local_dirs.find(e.path());
    if (it == local_dirs.end()) {
      plan->mkdirs.push_back(e);
    } else if (MetadataDiffers(*it->second, e, options)) {
      plan->dir_fixes.push_back(e);
    }
  }
  for (const auto& [d, entry] : local_dirs) {
    if (!source_dirs.count(d)) plan->rmdirs.push_back(d);
  }
  std::sort(plan->rmdirs.begin(), plan->rmdirs.end());
  std::stable_sort(
      plan->rmdirs.begin(), plan->rmdirs.end(), [](const std::string& a, const std::string& b) {
        return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
      });
}

// Local files whose current path will not keep them: candidates for
// renames (rename donors), else quarantine. Indexed by content hash and
// Maildir key.
class LeavingFiles {
 public:
  // Also counts the local Maildir messages into `*local_messages`.
  LeavingFiles(const Manifest& local, const ByPathIndex& source_by_path, uint64_t* local_messages) {
    for (const ManifestEntry& e : local) {
      if (IsMaildirMessage(e.path())) ++*local_messages;
      auto it = source_by_path.find(e.path());
      if (it != source_by_path.end() && it->second->hash() == e.hash()) continue;
      by_hash_.emplace(e.hash(), &e);
      std::string key = MaildirUniqueKey(e.path());
      if (!key.empty()) by_key_.emplace(std::move(key), &e);
    }
  }

  // A donor for `want`, taken (not offered again): the same Maildir
  // message (same unique part, same content) first, then any leaving file
  // with the same content. Null when there is none.
  const ManifestEntry* TakeDonor(const ManifestEntry& want) {
    const ManifestEntry* donor = nullptr;
    const std::string key = MaildirUniqueKey(want.path());
    if (!key.empty()) {
      auto [b, e] = by_key_.equal_range(key);
      for (auto i = b; i != e && donor == nullptr; ++i) {
        if (i->second->hash() == want.hash() && !used_.count(i->second->path())) donor = i->second;
      }
    }
    if (donor == nullptr) {
      auto [b, e] = by_hash_.equal_range(want.hash());
      for (auto i = b; i != e && donor == nullptr; ++i) {
        if (!used_.count(i->second->path())) donor = i->second;
      }
    }
    if (donor != nullptr) used_.insert(donor->path());
    return donor;
  }

  // The leaving files no rename took.
  std::vector<const ManifestEntry*> Untaken() const {
    std::vector<const ManifestEntry*> out;
    for (const auto& [hash, entry] : by_hash_) {
      if (!used_.count(entry->path())) out.push_back(entry);
    }
    return out;
  }

 private:
  std::unordered_multimap<std::string, const ManifestEntry*> by_hash_;
  std::unordered_multimap<std::string, const ManifestEntry*> by_key_;
  std::set<std::string> used_;  // local paths taken by renames
};

// Per source file: nothing, a metadata fix, a rename or a fetch.
void PlanFiles(const Manifest& source, const ByPathIndex& local_by_path, const PlanOptions& options,
               LeavingFiles* leaving, UserPlan* plan) {
  for (const ManifestEntry& want : source) {
    if (IsMaildirMessage(want.path())) plan->source_messages++;
    auto it = local_by_path.find(want.path());
    if (it != local_by_path.end() && it->second->hash() == want.hash()) {
      if (MetadataDiffers(*it->second, want, options)) plan->metadata_fixes.push_back(want);
      continue;
    }
    if (const ManifestEntry* donor = leaving->TakeDonor(want)) {
      plan->renames.push_back(
          {donor->path(), want, donor->mtime_ns(), donor->mode(), donor->uid(), donor->gid()});
    } else {
      plan->fetches.push_back(want);
      plan->fetch_bytes += want.size();
    }
  }
}

// Leaving files no rename took leave their path: those the source no
// longer has there are moved aside first, the others when their new
// version is installed over them. Every message among them counts as
// removed (gone, or rewritten under its path or its unique name).
void PlanQuarantines(const LeavingFiles& leaving, const Manifest& source,
                     const ByPathIndex& source_by_path, UserPlan* plan) {
  std::set<std::string> source_keys;
  for (const ManifestEntry& e : source) {
    std::string key = MaildirUniqueKey(e.path());
    if (!key.empty()) source_keys.insert(std::move(key));
  }
  for (const ManifestEntry* entry : leaving.Untaken()) {
    const bool message = IsMaildirMessage(entry->path());
    if (message) plan->removed_messages++;
    if (source_by_path.count(entry->path())) {
      plan->replaced.push_back(entry->path());
      continue;
    }
    Departure d;
    d.path = entry->path();
    d.hash = entry->hash();
    d.message = message;
    d.name_gone = message && !source_keys.count(MaildirUniqueKey(entry->path()));
    plan->quarantines.push_back(std::move(d));
  }
  std::sort(plan->quarantines.begin(), plan->quarantines.end(),
            [](const Departure& a, const Departure& b) { return a.path < b.path; });
  std::sort(plan->replaced.begin(), plan->replaced.end());
}

}  // namespace

UserPlan PlanUserSync(const Manifest& source_all, const Manifest& local_all,
                      const PlanOptions& options) {
  UserPlan plan;
  const Manifest source = FilesOnly(source_all);
  const Manifest local = FilesOnly(local_all);
  PlanDirectories(source_all, local_all, options, &plan);
  const auto source_by_path = ByPath(source);
  LeavingFiles leaving(local, source_by_path, &plan.local_messages);
  PlanFiles(source, ByPath(local), options, &leaving, &plan);
  PlanQuarantines(leaving, source, source_by_path, &plan);
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
