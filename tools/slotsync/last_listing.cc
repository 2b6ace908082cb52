#include "tools/slotsync/last_listing.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <fstream>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/paths.h"

namespace slotkeeper::slotsync {
namespace {

constexpr char kLastListingFile[] = "last-complete-listing";

}  // namespace

std::string ListingDigest(const v1::ListUsersResponse& listed, const std::string& dest_identity) {
  sync::ContentHasher hasher;
  std::string buf = absl::StrCat(listed.instance_id(), "\n", dest_identity, "\n");
  for (const v1::UserSummary& u : listed.users()) {
    absl::StrAppend(&buf, u.user(), "\n", u.generation(), "\n");
  }
  hasher.Update(buf.data(), buf.size());
  return absl::BytesToHexString(hasher.Finish());
}

std::string ReadLastListing(const std::string& state_dir) {
  std::ifstream in(absl::StrCat(state_dir, "/", kLastListingFile));
  std::string digest;
  if (!(in >> digest)) return "";
  return digest;
}

absl::Status WriteLastListing(const std::string& state_dir, const std::string& digest) {
  const std::string path = absl::StrCat(state_dir, "/", kLastListingFile);
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << digest << "\n";
    if (!out.good()) return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (rename(temp.c_str(), path.c_str()) != 0) return sync::ErrnoStatus(errno, "rename " + temp);
  return absl::OkStatus();
}

absl::Status ClearLastListing(const std::string& state_dir) {
  const std::string path = absl::StrCat(state_dir, "/", kLastListingFile);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return sync::ErrnoStatus(errno, "unlink " + path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenStateDbReadOnly(const std::string& dir) {
  rocksdb::Options options;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, &db);
  if (!s.ok()) return absl::NotFoundError(absl::StrCat("state db ", dir, ": ", s.ToString()));
  return std::unique_ptr<rocksdb::DB>(db);
}

bool AllUsersAtCheckpoint(const v1::ListUsersResponse& listed, const std::string& target_slot,
                          const std::string& source_slot, const std::string& dest_identity,
                          const std::string& only_user, sync::CheckpointStore* checkpoints,
                          uint64_t* users) {
  *users = 0;
  for (const v1::UserSummary& u : listed.users()) {
    if (!only_user.empty() && u.user() != only_user) continue;
    ++*users;
    std::optional<sync::CheckpointStore::Checkpoint> c = checkpoints->Get(target_slot, u.user());
    if (!c || !c->SameCopy(listed.instance_id(), source_slot, dest_identity) ||
        c->generation != u.generation()) {
      return false;
    }
  }
  return *users > 0;
}

}  // namespace slotkeeper::slotsync
