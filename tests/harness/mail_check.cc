#include "tests/harness/mail_check.h"

#include <xxhash.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> HashFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof(buf));
    XXH3_128bits_update(state, buf, static_cast<size_t>(in.gcount()));
  }
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return absl::StrFormat("%016x%016x", h.high64, h.low64);
}

// "cur/123.M1P2.host:2,S" -> "maildir:123.M1P2.host" (folder-independent);
// anything not in a Maildir cur/ or new/ keeps its path.
std::string MessageKey(const fs::path& relative) {
  const std::string dir = relative.parent_path().filename().string();
  if (dir == "cur" || dir == "new") {
    std::string base = relative.filename().string();
    size_t colon = base.find(":2,");
    if (colon != std::string::npos) base.resize(colon);
    return "maildir:" + base;
  }
  return "file:" + relative.string();
}

}  // namespace

absl::StatusOr<SlotContent> ReadSlotContent(const std::string& slot_dir) {
  // A slot may be read while a sync writes into it: its temporary files
  // (".slotsync-*", never mail) come and go, so a file that vanishes between
  // listing and reading is skipped rather than taken for an error.
  SlotContent content;
  const fs::path users = fs::path(slot_dir) / "users";
  std::error_code ec;
  if (!fs::exists(users, ec)) return content;
  for (const auto& user : fs::directory_iterator(users, ec)) {
    if (!user.is_directory(ec)) continue;
    auto& files = content[user.path().filename().string()];
    for (auto it = fs::recursive_directory_iterator(user.path(), ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        return absl::InternalError(
            absl::StrCat("walking ", user.path().string(), ": ", ec.message()));
      }
      const fs::path rel = it->path().lexically_relative(user.path());
      std::error_code type_ec;
      if (it->is_directory(type_ec) && rel.filename() == "tmp") {
        it.disable_recursion_pending();  // Maildir tmp/: not delivered yet
        continue;
      }
      if (!it->is_regular_file(type_ec)) continue;
      if (absl::StartsWith(rel.filename().string(), ".slotsync-")) continue;
      auto hash = HashFile(it->path());
      if (!hash.ok()) {
        if (!fs::exists(it->path(), type_ec)) continue;  // vanished meanwhile
        return hash.status();
      }
      files[MessageKey(rel)] = *hash;
    }
    if (ec) {
      return absl::InternalError(
          absl::StrCat("walking ", user.path().string(), ": ", ec.message()));
    }
  }
  return content;
}

std::vector<std::string> MissingFrom(const SlotContent& expected, const SlotContent& actual) {
  std::vector<std::string> problems;
  for (const auto& [user, files] : expected) {
    auto u = actual.find(user);
    for (const auto& [key, hash] : files) {
      if (u == actual.end()) {
        problems.push_back(absl::StrCat(user, ": ", key, " missing (user absent)"));
        continue;
      }
      auto f = u->second.find(key);
      if (f == u->second.end()) {
        problems.push_back(absl::StrCat(user, ": ", key, " missing"));
      } else if (f->second != hash) {
        problems.push_back(absl::StrCat(user, ": ", key, " differs"));
      }
    }
  }
  return problems;
}

size_t MessageCount(const SlotContent& content) {
  size_t n = 0;
  for (const auto& [user, files] : content) n += files.size();
  return n;
}

absl::StatusOr<QuarantineContent> ReadQuarantineContent(const std::string& slot_dir) {
  QuarantineContent content;
  const fs::path quarantine = fs::path(slot_dir) / ".quarantine";
  std::error_code ec;
  if (!fs::exists(quarantine, ec)) return content;
  for (const auto& day : fs::directory_iterator(quarantine, ec)) {
    if (!day.is_directory(ec)) continue;
    for (const auto& user : fs::directory_iterator(day.path(), ec)) {
      if (!user.is_directory(ec)) continue;
      auto& hashes = content[user.path().filename().string()];
      for (auto it = fs::recursive_directory_iterator(user.path(), ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) {
          return absl::InternalError(
              absl::StrCat("walking ", user.path().string(), ": ", ec.message()));
        }
        std::error_code type_ec;
        if (!it->is_regular_file(type_ec)) continue;
        auto hash = HashFile(it->path());
        if (!hash.ok()) {
          if (!fs::exists(it->path(), type_ec)) continue;  // purged meanwhile
          return hash.status();
        }
        hashes.insert(*hash);
      }
    }
  }
  if (ec)
    return absl::InternalError(absl::StrCat("walking ", quarantine.string(), ": ", ec.message()));
  return content;
}

std::vector<std::string> LostFrom(const SlotContent& expected, const SlotContent& live,
                                  const QuarantineContent& quarantine) {
  std::vector<std::string> problems;
  for (const auto& [user, files] : expected) {
    auto u = live.find(user);
    auto q = quarantine.find(user);
    for (const auto& [key, hash] : files) {
      if (u != live.end()) {
        auto f = u->second.find(key);
        if (f != u->second.end() && f->second == hash) continue;
      }
      if (q != quarantine.end() && q->second.count(hash) > 0) continue;
      problems.push_back(
          absl::StrCat(user, ": ", key, " neither in the copy nor in its quarantine"));
    }
  }
  return problems;
}

}  // namespace slotkeeper::testing
