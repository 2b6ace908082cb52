#include "slotmgr/ksck.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

template <typename T>
T Parse(const std::string& text) {
  T out;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &out)) << text;
  return out;
}

std::vector<std::string> Lines(const v1::ConsistencyReport& report) {
  std::vector<std::string> lines;
  for (const v1::ConsistencyProblem& p : report.problems()) {
    lines.push_back(p.severity() + " " + p.store() + " " + p.host() + "/" + p.slot() + " " +
                    p.text());
  }
  return lines;
}

// Four hosts; imap4's drive unit du2 (filesystem /srv/mail2) failed.
std::vector<v1::HostInfo> Hosts() {
  std::vector<v1::HostInfo> hosts;
  for (const char* h : {"imap1", "imap2", "imap3"}) {
    hosts.push_back(Parse<v1::HostInfo>(absl::StrCat(
        R"(
      name: ")",
        h, R"("
      units { name: "du1" state: UNIT_ONLINE }
      filesystems { mount_point: "/srv/mail1" unit: "du1" state: FS_OK }
      slots { ref { host: ")",
        h, R"(" slot: "s01" } filesystem: "/srv/mail1" role: SLOT_REPLICA store: "st1" }
      slots { ref { host: ")",
        h, R"(" slot: "s02" } filesystem: "/srv/mail1" role: SLOT_REPLICA store: "st2" }
      slots { ref { host: ")",
        h, R"(" slot: "s09" } filesystem: "/srv/mail1" role: SLOT_SPARE }
    )")));
  }
  hosts.push_back(Parse<v1::HostInfo>(R"(
    name: "imap4"
    units { name: "du1" state: UNIT_ONLINE }
    units { name: "du2" state: UNIT_FAILED }
    filesystems { mount_point: "/srv/mail1" unit: "du1" state: FS_OK }
    filesystems { mount_point: "/srv/mail2" unit: "du2" state: FS_READ_ONLY }
    slots { ref { host: "imap4" slot: "s01" } filesystem: "/srv/mail1" role: SLOT_MASTER store: "st1" }
    slots { ref { host: "imap4" slot: "s02" } filesystem: "/srv/mail2" role: SLOT_MASTER store: "st2" }
  )"));
  return hosts;
}

v1::StoreInfo Store(const std::string& name, const std::string& copies) {
  return Parse<v1::StoreInfo>(absl::StrCat("name: \"", name, "\" required_copies: 3 ", copies));
}

constexpr int64_t kMinute = 60'000;

TEST(KsckTest, HealthyStoreHasNoProblems) {
  v1::StoreInfo st1 = Store("st1", R"(
    copies { slot { host: "imap4" slot: "s01" } role: SLOT_MASTER usable: true in_sync: true }
    copies { slot { host: "imap1" slot: "s01" } role: SLOT_REPLICA usable: true in_sync: true }
    copies { slot { host: "imap2" slot: "s01" } role: SLOT_REPLICA usable: true in_sync: true lag_ms: 2000 }
  )");
  v1::ConsistencyReport report = CheckConsistency({st1}, Hosts(), kMinute);
  EXPECT_EQ(report.stores_checked(), 1u);
  EXPECT_THAT(Lines(report), IsEmpty());
}

TEST(KsckTest, UnusableMasterLaggingReplicaAndMissingCopies) {
  v1::StoreInfo st2 = Store("st2", R"(
    copies { slot { host: "imap4" slot: "s02" } role: SLOT_MASTER usable: false
             unusable_reason: "filesystem /srv/mail2 read-only" }
    copies { slot { host: "imap1" slot: "s02" } role: SLOT_REPLICA usable: true in_sync: true }
    copies { slot { host: "imap3" slot: "s02" } role: SLOT_REPLICA usable: true lag_ms: 300000 }
  )");
  EXPECT_THAT(Lines(CheckConsistency({st2}, Hosts(), kMinute)),
              ElementsAre("error st2 imap4/s02 master imap4/s02 is unusable: filesystem "
                          "/srv/mail2 read-only",
                          "warning st2 imap3/s02 replica imap3/s02 lags by 5m (bound 1m)",
                          "error st2 / 2 of 3 required copies usable"));
  // A wider bound accepts the lag.
  EXPECT_EQ(CheckConsistency({st2}, Hosts(), 10 * kMinute).problems_size(), 2);
}

TEST(KsckTest, TwoMastersSameHostUnknownSlotAndDisagreement) {
  v1::StoreInfo st1 = Store("st1", R"(
    copies { slot { host: "imap4" slot: "s01" } role: SLOT_MASTER usable: true }
    copies { slot { host: "imap1" slot: "s01" } role: SLOT_REPLICA usable: true }
    copies { slot { host: "imap1" slot: "s02" } role: SLOT_MASTER usable: true }
    copies { slot { host: "imap7" slot: "s01" } role: SLOT_REPLICA usable: true }
  )");
  EXPECT_THAT(Lines(CheckConsistency({st1}, Hosts(), kMinute)),
              ElementsAre("error st1 imap1/s02 host says imap1/s02 is replica of \"st2\", store "
                          "says master",
                          "error st1 imap7/s01 copy on imap7/s01, a slot no host reports",
                          "error st1 / 2 masters",
                          "error st1 / 2 copies on host imap1 (copies need distinct hosts)"));
}

TEST(KsckTest, NoMasterAndCopyOnLostUnit) {
  std::vector<v1::HostInfo> hosts = Hosts();
  hosts[3].mutable_units(1)->set_state(v1::UNIT_LOST);
  v1::StoreInfo st2 = Store("st2", R"(
    copies { slot { host: "imap4" slot: "s02" } role: SLOT_REPLICA usable: false }
    copies { slot { host: "imap1" slot: "s02" } role: SLOT_REPLICA usable: true }
    copies { slot { host: "imap3" slot: "s02" } role: SLOT_REPLICA usable: true }
  )");
  EXPECT_THAT(Lines(CheckConsistency({st2}, hosts, kMinute)),
              ElementsAre("error st2 imap4/s02 still references imap4/s02 on lost drive unit "
                          "imap4/du2",
                          "error st2 imap4/s02 host says imap4/s02 is master of \"st2\", store "
                          "says replica",
                          "error st2 / no master", "error st2 / 2 of 3 required copies usable"));
}

}  // namespace
}  // namespace slotkeeper::slotmgr
