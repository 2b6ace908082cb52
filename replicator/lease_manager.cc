#include "replicator/lease_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/model_util.h"

namespace slotkeeper::replicator {
namespace {
constexpr size_t kRememberedReports = 512;
}  // namespace

LeaseManager::LeaseManager(Clock* clock, LeaseObserver* observer)
    : clock_(clock), observer_(observer) {}

void LeaseManager::NotifyLocked(const std::string& slot, const Master* m) {
  if (observer_ == nullptr) return;
  if (m == nullptr || !m->serving) {
    observer_->LeaseChanged(slot, m ? m->store : "", m ? m->epoch : 0, std::nullopt);
  } else {
    observer_->LeaseChanged(slot, m->store, m->epoch, m->Until());
  }
}

void LeaseManager::NoteReportSent(uint64_t report_id) {
  absl::MutexLock lock(&mu_);
  sent_.emplace_back(report_id, clock_->Monotonic());
  while (sent_.size() > kRememberedReports) sent_.pop_front();
}

absl::Status LeaseManager::Promote(const std::string& slot, const std::string& store,
                                   uint64_t epoch, int64_t duration_ms,
                                   std::vector<v1::CopyPeer> witnesses) {
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
  m.serving = true;
  m.coordinator_until = start + absl::Milliseconds(duration_ms);
  m.failsafe_until = absl::ZeroDuration();
  m.witnesses = std::move(witnesses);
  m.lease_duration = absl::Milliseconds(duration_ms);
  NotifyLocked(slot, &m);
  return absl::OkStatus();
}

void LeaseManager::AdoptWithoutLease(const std::string& slot, const std::string& store,
                                     uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  Master& m = masters_[slot];
  if (m.serving && m.store == store && m.epoch == epoch) return;
  m.store = store;
  m.epoch = epoch;
  m.serving = false;
  m.coordinator_until = absl::ZeroDuration();
  m.failsafe_until = absl::ZeroDuration();
  NotifyLocked(slot, &m);
}

std::vector<absl::Status> LeaseManager::Renew(const v1::LeaseRenewal& renewal) {
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
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
    if (!m.serving) {
      // Adopted after a restart, or fenced: the mail server is not running,
      // and only a promote (which runs the hook) may start it again.
      out.push_back(absl::FailedPreconditionError(
          absl::StrCat("slot ", lease.slot(), " is not serving; it needs a promote")));
      continue;
    }
    if (m.Until() <= now) {
      // A lease that already ran out stays out: the slot has been fenced.
      out.push_back(absl::FailedPreconditionError(
          absl::StrCat("lease on slot ", lease.slot(), " has already expired")));
      continue;
    }
    const absl::Duration until = sent->second + absl::Milliseconds(lease.duration_ms());
    const absl::Duration before = m.Until();
    m.coordinator_until = std::max(m.coordinator_until, until);
    m.lease_duration = absl::Milliseconds(lease.duration_ms());
    for (const v1::StoreCopies& copies : renewal.copies()) {
      if (copies.store() == m.store)
        m.witnesses.assign(copies.copies().begin(), copies.copies().end());
    }
    if (m.Until() != before) NotifyLocked(lease.slot(), &m);
    out.push_back(absl::OkStatus());
  }
  return out;
}

absl::Status LeaseManager::ExtendFailsafe(const std::string& slot, const std::string& store,
                                          uint64_t epoch, absl::Duration asked_at,
                                          absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  auto it = masters_.find(slot);
  if (it == masters_.end() || it->second.store != store || it->second.epoch != epoch ||
      !it->second.serving) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", slot, " no longer serves ", store, "@", epoch));
  }
  Master& m = it->second;
  if (m.Until() <= clock_->Monotonic()) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease on slot ", slot, " ran out before the grants arrived"));
  }
  const absl::Duration before = m.Until();
  m.failsafe_until = std::max(m.failsafe_until, asked_at + duration);
  if (m.Until() != before) NotifyLocked(slot, &m);
  return absl::OkStatus();
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
  Master gone = std::move(it->second);
  masters_.erase(it);
  gone.serving = false;
  NotifyLocked(slot, &gone);
  return absl::OkStatus();
}

std::vector<v1::Lease> LeaseManager::TakeExpired() {
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
  std::vector<v1::Lease> out;
  for (auto it = masters_.begin(); it != masters_.end();) {
    if (it->second.serving && it->second.Until() <= now) {
      v1::Lease& l = out.emplace_back();
      l.set_slot(it->first);
      l.set_store(it->second.store);
      l.set_epoch(it->second.epoch);
      Master gone = std::move(it->second);
      gone.serving = false;
      NotifyLocked(it->first, &gone);
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
    if (!m.serving || m.Until() <= now) continue;
    v1::Lease& l = out.emplace_back();
    l.set_slot(slot);
    l.set_store(m.store);
    l.set_epoch(m.epoch);
    l.set_duration_ms(absl::ToInt64Milliseconds(m.Until() - now));
    l.set_failsafe(m.coordinator_until <= now);
    for (const v1::CopyPeer& w : m.witnesses) l.add_witnesses(model::SlotName(w.slot()));
  }
  return out;
}

std::vector<FailsafeCandidate> LeaseManager::FailsafeCandidates() const {
  absl::MutexLock lock(&mu_);
  const absl::Duration now = clock_->Monotonic();
  std::vector<FailsafeCandidate> out;
  for (const auto& [slot, m] : masters_) {
    if (!m.serving || m.Until() <= now || m.witnesses.empty()) continue;
    out.push_back({slot, m.store, m.epoch, m.witnesses, m.Until(), m.lease_duration});
  }
  return out;
}

absl::Duration LeaseManager::NextExpiry() const {
  absl::MutexLock lock(&mu_);
  absl::Duration next = absl::InfiniteDuration();
  const absl::Duration now = clock_->Monotonic();
  for (const auto& [slot, m] : masters_) {
    if (m.serving) next = std::min(next, std::max(absl::ZeroDuration(), m.Until() - now));
  }
  return next;
}

bool LeaseManager::IsMaster(const std::string& slot) const {
  absl::MutexLock lock(&mu_);
  return masters_.count(slot) > 0;
}

bool LeaseManager::IsServing(const std::string& slot) const {
  absl::MutexLock lock(&mu_);
  auto it = masters_.find(slot);
  return it != masters_.end() && it->second.serving && it->second.Until() > clock_->Monotonic();
}

}  // namespace slotkeeper::replicator
