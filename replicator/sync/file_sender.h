// Streaming a file's content as FileChunks (FetchFiles, FetchQuarantined):
// from an offset, hashed as it is read, never presented as a version it is
// not. Thread-safe free functions.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_FILE_SENDER_H_
#define SLOTKEEPER_REPLICATOR_SYNC_FILE_SENDER_H_

#include <sys/stat.h>

#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/peer.pb.h"

namespace slotkeeper::sync {

// A FileChunk saying that file `index` cannot be served (`why`). False when
// the client went away.
bool SendError(int index, absl::string_view why,
               const std::function<bool(const v1::FileChunk&)>& write);

// Sends the open file `fd` (stat'ed as `st`) from want.offset on, hashing
// all of it. Small files: one chunk carrying data, metadata and hash, sent
// only after the hash was checked. Large files: data chunks, then a final
// chunk with the verdict. A file that changed while it was read, or whose
// content is not want.expected_hash (when set), gets an error chunk instead
// of its last one. `buffer` sets the chunk size. False when the client
// went away.
bool SendFile(int fd, const struct stat& st, const v1::FileWant& want, int index,
              std::string* buffer, const std::function<bool(const v1::FileChunk&)>& write);

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_FILE_SENDER_H_
