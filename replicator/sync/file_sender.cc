#include "replicator/sync/file_sender.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/manifest.h"

namespace slotkeeper::sync {

bool SendError(int index, absl::string_view why,
               const std::function<bool(const v1::FileChunk&)>& write) {
  v1::FileChunk chunk;
  chunk.set_file_index(index);
  chunk.set_eof(true);
  chunk.set_error(std::string(why));
  return write(chunk);
}

bool SendFile(int fd, const struct stat& st, const v1::FileWant& want, int index,
              std::string* buffer, const std::function<bool(const v1::FileChunk&)>& write) {
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  v1::FileChunk chunk;
  chunk.set_file_index(index);
  ContentHasher hasher;
  uint64_t offset = 0;
  std::string pending;  // read, not yet sent
  for (;;) {
    ssize_t n = pread(fd, buffer->data(), buffer->size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SendError(index, absl::StrCat("read error on ", want.path()), write);
    }
    if (n == 0) break;
    hasher.Update(buffer->data(), static_cast<size_t>(n));
    if (offset + static_cast<uint64_t>(n) > want.offset()) {
      size_t skip = offset >= want.offset() ? 0 : want.offset() - offset;
      if (!pending.empty()) {
        chunk.set_offset(offset - pending.size());
        chunk.set_data(std::move(pending));
        if (!write(chunk)) return false;
        pending.clear();
      }
      pending.assign(buffer->data() + skip, static_cast<size_t>(n) - skip);
    }
    offset += static_cast<uint64_t>(n);
  }
  std::string hash = hasher.Finish();
  struct stat after;
  bool changed = fstat(fd, &after) != 0 || MtimeNs(after) != MtimeNs(st) ||
                 after.st_size != st.st_size || static_cast<uint64_t>(st.st_size) != offset ||
                 (!want.expected_hash().empty() && hash != want.expected_hash());
  if (changed) {
    return SendError(index, absl::StrCat(want.path(), " changed at the source since its manifest"),
                     write);
  }
  chunk.set_offset(offset - pending.size());
  chunk.set_data(std::move(pending));
  chunk.set_eof(true);
  chunk.set_size(offset);
  chunk.set_mtime_ns(MtimeNs(st));
  chunk.set_mode(st.st_mode & kPermissionBits);
  chunk.set_hash(hash);
  return write(chunk);
}

}  // namespace slotkeeper::sync
