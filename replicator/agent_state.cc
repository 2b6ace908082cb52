#include "replicator/agent_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"

namespace slotkeeper::replicator {
namespace {
constexpr int kMaxApplied = 2000;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}
}  // namespace

AgentStateStore::AgentStateStore(std::string data_dir)
    : data_dir_(std::move(data_dir)), path_(data_dir_ + "/agent-state.textproto") {}

absl::Status AgentStateStore::Load() {
  if (::mkdir(data_dir_.c_str(), 0750) != 0 && errno != EEXIST) {
    return Errno("cannot create data dir", data_dir_);
  }
  std::ifstream in(path_);
  if (!in) return absl::OkStatus();  // first start
  std::stringstream text;
  text << in.rdbuf();
  AgentStateFile state;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &state)) {
    return absl::DataLossError(absl::StrCat("agent state ", path_, " does not parse"));
  }
  absl::MutexLock lock(&mu_);
  state_ = std::move(state);
  return absl::OkStatus();
}

std::optional<AppliedCommand> AgentStateStore::FindApplied(const std::string& command_id) const {
  absl::MutexLock lock(&mu_);
  for (const AppliedCommand& c : state_.applied()) {
    if (c.id() == command_id) return c;
  }
  return std::nullopt;
}

absl::Status AgentStateStore::RecordApplied(const std::string& command_id, bool ok,
                                            const std::string& error) {
  absl::MutexLock lock(&mu_);
  AppliedCommand* c = state_.add_applied();
  c->set_id(command_id);
  c->set_ok(ok);
  c->set_error(error);
  if (state_.applied_size() > kMaxApplied) {
    state_.mutable_applied()->DeleteSubrange(0, state_.applied_size() - kMaxApplied);
  }
  return SaveLocked();
}

absl::Status AgentStateStore::SetRole(const std::string& slot, const std::string& store,
                                      const std::string& role, uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  SlotRoleRecord* record = nullptr;
  for (SlotRoleRecord& r : *state_.mutable_roles()) {
    if (r.slot() == slot) record = &r;
  }
  if (record == nullptr) record = state_.add_roles();
  record->set_slot(slot);
  record->set_store(store);
  record->set_role(role);
  record->set_epoch(epoch);
  return SaveLocked();
}

std::vector<SlotRoleRecord> AgentStateStore::Roles() const {
  absl::MutexLock lock(&mu_);
  return {state_.roles().begin(), state_.roles().end()};
}

absl::Status AgentStateStore::SaveLocked() {
  std::string text;
  google::protobuf::TextFormat::PrintToString(state_, &text);
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot write", tmp);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("cannot write", tmp);
      ::close(fd);
      return s;
    }
    done += n;
  }
  if (::fsync(fd) != 0) {
    absl::Status s = Errno("cannot fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return Errno("cannot rename onto", path_);
  return absl::OkStatus();
}

}  // namespace slotkeeper::replicator
