#include "tests/e2e/data_safety.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Writes all of `data` to `fd` at `offset`.
absl::Status WriteAll(int fd, const char* data, size_t size, off_t offset,
                      const std::string& what) {
  while (size > 0) {
    ssize_t n = pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(what);
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return absl::OkStatus();
}

}  // namespace

ClusterOptions DataSafetyOptions(const std::string& name, absl::Duration failover_grace_hard,
                                 int64_t catch_up_ms) {
  ClusterOptions options;
  options.root = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  options.verbose = true;
  options.hosts = {"imap1", "imap2", "imap3"};
  options.units_per_host = 1;
  options.slots_per_unit = 2;
  options.coordinator_flags = {
      "--heartbeat=500ms",
      "--suspect_after=3s",
      "--down_after=10s",
      absl::StrCat("--failover_grace_hard=", absl::FormatDuration(failover_grace_hard)),
      "--failover_grace=20s",
      "--lease=4s",
      "--replace_after=10m",
      "--task_retry_backoff=2s",
  };
  options.agent_config_extra =
      absl::StrCat("data_path { catch_up_interval_ms: ", catch_up_ms, " }");
  return options;
}

absl::StatusOr<std::map<std::string, SlotContent>> CreateStoreInSync(Cluster& cluster,
                                                                     int messages) {
  absl::StatusOr<std::map<std::string, SlotContent>> reference =
      cluster.CreateStores({{"st1", "imap1", "du1s1"}}, /*users=*/4, messages);
  if (!reference.ok()) return reference.status();
  if (absl::Status s = WaitForReplicasInSync(cluster, "st1", absl::Seconds(60)); !s.ok()) return s;
  return reference;
}

absl::StatusOr<SlotContent> DeliverMessages(const std::string& slot, const std::string& user,
                                            int count, const std::string& tag, size_t size) {
  const fs::path dir = fs::path(slot) / "users" / user;
  std::error_code ec;
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(dir / sub, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir.string(), ": ", ec.message()));
  std::mt19937_64 rng(std::hash<std::string>{}(tag + user));
  for (int i = 0; i < count; ++i) {
    const std::string name = absl::StrCat(1764000000 + i, ".M", i, "P", getpid(), "Q", tag, ".e2e");
    std::string body = absl::StrCat("From: sender", i, "@example.org\nTo: ", user,
                                    "@example.org\nSubject: ", tag, " #", i, "\n\n");
    while (body.size() < size) body.push_back(static_cast<char>('a' + rng() % 26));
    body.resize(std::max(size, body.size()));
    const fs::path tmp = dir / "tmp" / name;
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Errno(absl::StrCat("create ", tmp.string()));
    absl::Status st = WriteAll(fd, body.data(), body.size(), 0, tmp.string());
    if (st.ok() && fsync(fd) != 0) st = Errno(absl::StrCat("fsync ", tmp.string()));
    close(fd);
    if (!st.ok()) return st;
    const fs::path final_path = dir / "cur" / (name + ":2,S");
    if (rename(tmp.c_str(), final_path.c_str()) != 0) {
      return Errno(absl::StrCat("rename into ", final_path.string()));
    }
  }
  auto all = ReadSlotContent(slot);
  if (!all.ok()) return all.status();
  SlotContent delivered;
  auto& mine = delivered[user];
  for (const auto& [key, hash] : (*all)[user]) {
    if (absl::StrContains(key, absl::StrCat("Q", tag, "."))) mine[key] = hash;
  }
  if (mine.size() != static_cast<size_t>(count)) {
    return absl::InternalError(absl::StrCat("delivered ", count, " messages to ", user, " but ",
                                            mine.size(), " read back"));
  }
  return delivered;
}

std::vector<std::string> MessageFiles(const std::string& slot, const std::string& user) {
  std::vector<std::string> files;
  std::error_code ec;
  const fs::path dir = fs::path(slot) / "users" / user;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string parent = it->path().parent_path().filename().string();
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && (parent == "cur" || parent == "new") &&
        !absl::StartsWith(it->path().filename().string(), ".slotsync-")) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

uint64_t BytesUnder(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) n += it->file_size(type_ec);
  }
  return n;
}

absl::StatusOr<int> RewriteWithGarbage(const std::string& slot, const std::string& user,
                                       uint64_t seed) {
  std::mt19937_64 rng(seed);
  int n = 0;
  for (const std::string& file : MessageFiles(slot, user)) {
    struct stat st;
    if (stat(file.c_str(), &st) != 0) return Errno(absl::StrCat("stat ", file));
    std::string garbage(static_cast<size_t>(st.st_size), '\0');
    for (char& ch : garbage) ch = static_cast<char>(rng());
    int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno(absl::StrCat("open ", file));
    absl::Status w = WriteAll(fd, garbage.data(), garbage.size(), 0, file);
    if (w.ok() && fsync(fd) != 0) w = Errno(absl::StrCat("fsync ", file));
    close(fd);
    if (!w.ok()) return w;
    ++n;
  }
  return n;
}

absl::Status FlipByteOnDevice(const std::string& file, uint64_t offset, const std::string& device) {
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("open ", file));
  alignas(8) char buf[sizeof(struct fiemap) + sizeof(struct fiemap_extent)] = {};
  auto* map = reinterpret_cast<struct fiemap*>(buf);
  map->fm_start = offset;
  map->fm_length = 1;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = 1;
  if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
    absl::Status st = Errno(absl::StrCat("FIEMAP ", file));
    close(fd);
    return st;
  }
  if (map->fm_mapped_extents != 1) {
    close(fd);
    return absl::InternalError(absl::StrCat(file, ": no extent at offset ", offset));
  }
  const struct fiemap_extent& e = map->fm_extents[0];
  constexpr uint32_t kNotOnDisk = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
                                  FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_ENCODED |
                                  FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_UNWRITTEN;
  if ((e.fe_flags & kNotOnDisk) != 0) {
    close(fd);
    return absl::InternalError(
        absl::StrCat(file, ": extent flags ", e.fe_flags, " (not a plain block on disk)"));
  }
  const uint64_t physical = e.fe_physical + (offset - e.fe_logical);
  constexpr uint64_t kBlock = 4096;
  const uint64_t block_start = physical / kBlock * kBlock;
  int dev = open(device.c_str(), O_RDWR | O_DIRECT | O_SYNC | O_CLOEXEC);
  if (dev < 0) {
    close(fd);
    return Errno(absl::StrCat("open ", device));
  }
  void* block = nullptr;
  if (posix_memalign(&block, kBlock, kBlock) != 0) {
    close(dev);
    close(fd);
    return absl::InternalError("posix_memalign");
  }
  absl::Status st;
  if (pread(dev, block, kBlock, static_cast<off_t>(block_start)) != static_cast<ssize_t>(kBlock)) {
    st = Errno(absl::StrCat("read ", device));
  } else {
    static_cast<unsigned char*>(block)[physical - block_start] ^= 0x20;
    if (pwrite(dev, block, kBlock, static_cast<off_t>(block_start)) !=
        static_cast<ssize_t>(kBlock)) {
      st = Errno(absl::StrCat("write ", device));
    }
  }
  free(block);
  close(dev);
  // The page cache may still hold the old content: drop it (the pages are
  // clean), so that every later read goes to the disk.
  if (st.ok()) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  return st;
}

uint64_t FreeBytes(const std::string& mount) {
  struct statvfs v;
  if (statvfs(mount.c_str(), &v) != 0) return 0;
  // Root's view: the agent runs as root and may use the reserved blocks.
  return static_cast<uint64_t>(v.f_bfree) * v.f_frsize;
}

absl::Status FillFilesystem(const std::string& mount, const std::string& name) {
  const std::string path = (fs::path(mount) / name).string();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("create ", path));
  absl::Status result;
  const uint64_t free_now = FreeBytes(mount);
  struct stat st;
  if (free_now > (2 << 20) && fstat(fd, &st) == 0 &&
      fallocate(fd, 0, st.st_size, static_cast<off_t>(free_now - (2 << 20))) != 0 &&
      errno != ENOSPC) {
    result = Errno(absl::StrCat("fallocate ", path));
  }
  // The rest in ever smaller writes, until not one block is left.
  std::string chunk(64 << 10, 'f');
  for (size_t size = chunk.size(); result.ok() && size >= 1024; size /= 4) {
    while (true) {
      ssize_t n = write(fd, chunk.data(), size);
      if (n >= 0) continue;
      if (errno != ENOSPC) result = Errno(absl::StrCat("write ", path));
      break;
    }
  }
  fsync(fd);  // ENOSPC here is expected: what fit is on disk either way
  close(fd);
  return result;
}

absl::Status WaitForReplicasInSync(Cluster& cluster, const std::string& store,
                                   absl::Duration timeout) {
  return cluster.WaitForStore(
      store,
      [](const v1::StoreInfo& s) {
        int replicas = 0;
        for (const auto& c : s.copies()) {
          if (c.role() != v1::SLOT_REPLICA) continue;
          ++replicas;
          if (!c.usable() || !c.in_sync() || c.last_synced_ms() == 0 || c.identity_changed()) {
            return false;
          }
        }
        return replicas > 0;
      },
      timeout, "every replica caught up by its own catch-up");
}

std::vector<v1::Event> EventsOf(Cluster& cluster, const std::string& kind,
                                const std::string& store) {
  std::vector<v1::Event> out;
  auto all = ListAllEvents(cluster);
  if (!all.ok()) return out;
  for (const auto& e : *all) {
    if (e.kind() == kind && (store.empty() || e.store() == store)) out.push_back(e);
  }
  return out;
}

absl::StatusOr<CopyAccount> AccountFor(const std::string& slot, const SlotContent& expected) {
  auto live = ReadSlotContent(slot);
  if (!live.ok()) return live.status();
  auto quarantine = ReadQuarantineContent(slot);
  if (!quarantine.ok()) return quarantine.status();
  CopyAccount account;
  for (const auto& [user, files] : expected) {
    if (auto u = live->find(user); u != live->end()) account.live_messages += u->second.size();
    if (auto q = quarantine->find(user); q != quarantine->end()) {
      account.quarantined_files += q->second.size();
    }
  }
  account.lost = LostFrom(expected, *live, *quarantine);
  return account;
}

}  // namespace slotkeeper::testing
