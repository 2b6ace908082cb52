#include "replicator/sync/safety_source.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "replicator/sync/file_sender.h"
#include "replicator/sync/peer_service.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/slot_layout.h"

namespace slotkeeper::sync {

absl::StatusOr<v1::ListQuarantineResponse> SafetySource::ListQuarantine(
    const v1::ListQuarantineRequest& request) {
  absl::StatusOr<int> root = core_->SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  if (!request.user().empty()) {
    if (absl::Status s = ValidateUserName(request.user()); !s.ok()) return s;
  }
  v1::ListQuarantineResponse response;
  uint64_t items = 0, bytes = 0;
  index_->ForEach(request.slot(), request.user(), [&](const QuarantineRecord& r) {
    ++items;
    bytes += r.item().size();
    if (request.limit() == 0 || response.items_size() < static_cast<int>(request.limit())) {
      *response.add_items() = r.item();
    }
    return true;
  });
  response.set_total_items(items);
  response.set_total_bytes(bytes);
  return response;
}

absl::Status SafetySource::FetchQuarantined(
    const v1::FetchQuarantinedRequest& request,
    const std::function<bool(const v1::FileChunk&)>& write) {
  absl::StatusOr<int> root = core_->SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  std::optional<QuarantineRecord> record = index_->Get(request.slot(), request.id());
  if (!record) {
    return absl::NotFoundError(
        absl::StrCat("slot ", request.slot(), " lists no quarantine item \"", request.id(), "\""));
  }
  absl::StatusOr<Fd> file = OpenQuarantined(*root, request.id());
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) (void)index_->Remove(request.slot(), {request.id()});
    return file.status();
  }
  struct stat st;
  if (fstat(file->get(), &st) != 0) return ErrnoStatus(errno, "stat quarantine item");
  v1::FileWant want;
  want.set_path(request.id());
  want.set_expected_hash(record->item().hash());
  std::string buffer(kDefaultChunkBytes, '\0');
  if (!SendFile(file->get(), st, want, 0, &buffer, write)) {
    return absl::CancelledError("client went away");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ListDeletedResponse> SafetySource::ListDeleted(
    const v1::ListDeletedRequest& request) {
  if (absl::StatusOr<int> root = core_->SlotRoot(request.slot()); !root.ok()) {
    return root.status();
  }
  if (!request.user().empty()) {
    if (absl::Status s = ValidateUserName(request.user()); !s.ok()) return s;
  }
  if (refresh_log_) refresh_log_(request.slot());
  std::optional<int64_t> since = log_->Since(request.slot());
  if (!since) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", request.slot(), " keeps no deletion log (it is not a master)"));
  }
  v1::ListDeletedResponse response;
  response.set_since_ms(*since);
  for (v1::DeletedMessage& d : log_->List(request.slot(), request.user())) {
    *response.add_deleted() = std::move(d);
  }
  return response;
}

absl::StatusOr<v1::ListStrandedResponse> SafetySource::ListStranded(
    const v1::ListStrandedRequest& request) {
  absl::StatusOr<int> root = core_->SlotRoot(request.slot());
  if (!root.ok()) return root.status();
  v1::ListStrandedResponse response;
  if (absl::StatusOr<std::string> store = ReadStoreMarker(*root); store.ok()) {
    response.set_store(*store);
  }
  index_->ForEach(request.slot(), "", [&](const QuarantineRecord& r) {
    if (r.item().reason() != kReasonStranded || r.reconciled()) return true;
    v1::StrandedMessage* m = response.add_messages();
    m->set_user(r.item().user());
    m->set_maildir_key(r.item().maildir_key());
    m->set_quarantine_id(r.item().id());
    m->set_size(r.item().size());
    m->set_hash(r.item().hash());
    return true;
  });
  return response;
}

}  // namespace slotkeeper::sync
