// What the fault tests check about a store's copies, on disk and in the
// coordinator's view: reading a copy while a sync writes into it, waiting
// until every copy holds the master's mail or a new master serves, the
// problems of copies that lack mail, and the names of a store's copies
// ("HOST/SLOT").
#ifndef SLOTKEEPER_TESTS_E2E_STORE_CHECKS_H_
#define SLOTKEEPER_TESTS_E2E_STORE_CHECKS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/automation.pb.h"
#include "tests/e2e/cluster.h"
#include "tests/harness/mail_check.h"

namespace slotkeeper::testing {

// Reads a slot that a sync may be writing into (files vanish while listed),
// without the data path's temporaries (".slotsync-*").
absl::StatusOr<SlotContent> ReadWhileSyncing(const std::string& slot);

// Waits until every copy of `store` except those in `skip` ("HOST/SLOT") holds
// every message the master holds now (read once at the start), with the same
// content. Returns the master's content.
absl::StatusOr<SlotContent> WaitForCopiesToMatchMaster(Cluster& cluster, const std::string& store,
                                                       absl::Duration timeout,
                                                       const std::vector<std::string>& skip = {});

// Every message of `expected` on every copy of `store` (masters included,
// lost copies and those in `skip` not): the problems, empty when none.
std::vector<std::string> CheckCopiesHave(Cluster& cluster, const std::string& store,
                                         const SlotContent& expected,
                                         const std::vector<std::string>& skip = {});

// Waits until the store has a master at an epoch above `epoch`, other than
// `old_master` ("HOST/SLOT"), that is usable and serving; returns the store.
absl::StatusOr<v1::StoreInfo> WaitForNewMaster(Cluster& cluster, const std::string& store,
                                               uint64_t epoch, const std::string& old_master,
                                               absl::Duration timeout);

// "HOST" of "HOST/SLOT".
std::string HostOf(const std::string& host_slot);
std::string SlotOf(const std::string& host_slot);

// The master copy of a store, null when none.
const v1::Copy* MasterCopyOf(const v1::StoreInfo& store);
// The copy of `store` at "HOST/SLOT", null when none.
const v1::Copy* CopyAt(const v1::StoreInfo& store, const std::string& host_slot);
// "HOST/SLOT" of each replica of `store`, in the order the coordinator lists
// them.
std::vector<std::string> ReplicasOf(const v1::StoreInfo& store);
std::string SlotName(const v1::Copy& copy);

// The coordinator's record of HOST/SLOT (ListHosts).
absl::StatusOr<v1::SlotInfo> SlotInfoOf(Cluster& cluster, const std::string& host,
                                        const std::string& slot);

// Success when `problems` (of CheckNoMessageLost, CheckCopiesHave...) is
// empty, else a failure that lists them (their first 2000 characters).
::testing::AssertionResult NoProblems(const std::vector<std::string>& problems);

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_TESTS_E2E_STORE_CHECKS_H_
