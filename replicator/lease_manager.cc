#include "replicator/lease_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slotkeeper::replicator {
namespace {
constexpr size_t kRememberedReports = 512;
}  // namespace

LeaseManager::LeaseManager(Clock* clock) : clock_(clock) {}

void LeaseManager::NoteReportSent(uint64_t report_id) {
  absl::MutexLock lock(&mu_);
  sent_.emplace_back(report_id, clock_->Monotonic());
  while (sent_.size() > kRememberedReports) sent_.pop_front();
}

absl::Status LeaseManager::Promote(const std::string& slot, const std::string& store,
                                   uint64_t epoch, int64_t duration_ms) {
  absl::MutexLock lock(&mu_);
  auto it = masters_.find(slot);
  if (it != masters_.end() && it->second.store == store && it->second.epoch > epoch) {
    return absl::FailedPreconditionError(absl::StrCat("slot ", slot, " is master of ", store,
                                                      " at epoch ", it->second.epoch,
                                                      ", newer than ", epoch));
  }
  // Count from the newest report sent before this command arrived (see the
  // header); with no report yet, from now.
  const absl::Duration start = sent_.empty() ? clock_->Monotonic() : sent_.back().second;
  Master& m = masters_[slot];
  m.store = store;
  m.epoch = epoch;
  m.has_lease = true;
  m.expires = start + absl::Milliseconds(duration_ms);
  return absl::OkStatus();
}

void LeaseManager::AdoptWithoutLease(const std::string& slot, const std::string& store,
                                     uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  Master& m = masters_[slot];
  if (m.has_lease && m.store == store && m.epoch == epoch) return;
  m.store = store;
  m.epoch = epoch;
  m.has_lease = false;
  m.expires = absl::ZeroDuration();
}

std::vector<absl::Status> LeaseManager::Renew(const v1::LeaseRenewal& renewal) {
  absl::MutexLock lock(&mu_);
  std::vector<absl::Status> out;
  auto sent = std::find_if(sent_.begin(), sent_.end(),
                           [&](const auto& s) { return s.first == renewal.report_id(); });
  for (const v1::Lease& lease : renewal.leases()) {
    if (sent == sent_.end()) {
      out.push_back(absl::NotFoundError(
          absl::StrCat("report ", renewal.report_id(), " is unknown or too old to renew from")));
      continue;
    }
    auto it = masters_.find(lease.slot());
    if (it == masters_.end()) {
      out.push_back(
          absl::NotFoundError(absl::StrCat("slot ", lease.slot(), " is not master here")));
      continue;
    }
    Master& m = it->second;
    if (m.store != lease.store() || m.epoch != lease.epoch()) {
      out.push_back(absl::FailedPreconditionError(
          absl::StrCat("lease for ", lease.store(), "@", lease.epoch(), " on slot ", lease.slot(),
                       " does not match the master here: ", m.store, "@", m.epoch)));
      continue;
    }
    const absl::Duration until = sent->second + absl::Milliseconds(lease.duration_ms());
    // A lease that already ran out stays out: the slot has been fenced.
    if (m.has_lease && m.expires <= clock_->Monotonic()) {
      out.push_back(absl::FailedPreconditionError(
          absl::StrCat("lease on slot ", lease.slot(), " has already expired")));
      continue;
    }
    if (!m.has_lease || until > m.expires) m.expires = until;
    m.has_lease = m.expires > clock_->Monotonic();
    out.push_back(absl::OkStatus());
  }
  return out;
}

absl::Status LeaseManager::Demote(const std::string& slot, uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  auto it = masters_.find(slot);
  if (it == masters_.end()) return absl::OkStatus();  // already not master
  if (epoch < it->second.epoch) {
    return absl::FailedPreconditionError(absl::StrCat("demote of slot ", slot, " at epoch ", epoch,
                                                      " is older than its master epoch ",
                                                      it->second.epoch));
  }
  masters_.erase(it);
  return absl::OkStatus();
}

std::vector<v1::Lease> LeaseManager::TakeExpired() {
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
  std::vector<v1::Lease> out;
  for (auto it = masters_.begin(); it != masters_.end();) {
    if (it->second.has_lease && it->second.expires <= now) {
      v1::Lease& l = out.emplace_back();
      l.set_slot(it->first);
      l.set_store(it->second.store);
      l.set_epoch(it->second.epoch);
      it = masters_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<v1::Lease> LeaseManager::Held() const {
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
  std::vector<v1::Lease> out;
  for (const auto& [slot, m] : masters_) {
    if (!m.has_lease || m.expires <= now) continue;
    v1::Lease& l = out.emplace_back();
    l.set_slot(slot);
    l.set_store(m.store);
    l.set_epoch(m.epoch);
    l.set_duration_ms(absl::ToInt64Milliseconds(m.expires - now));
  }
  return out;
}

absl::Duration LeaseManager::NextExpiry() const {
  absl::MutexLock lock(&mu_);
  absl::Duration next = absl::InfiniteDuration();
  const absl::Duration now = clock_->Monotonic();
  for (const auto& [slot, m] : masters_) {
    if (m.has_lease) next = std::min(next, std::max(absl::ZeroDuration(), m.expires - now));
  }
  return next;
}

bool LeaseManager::IsMaster(const std::string& slot) const {
  absl::MutexLock lock(&mu_);
  return masters_.count(slot) > 0;
}

}  // namespace slotkeeper::replicator
