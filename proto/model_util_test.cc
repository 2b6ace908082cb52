#include "proto/model_util.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::model {
namespace {

using ::testing::HasSubstr;

TEST(ModelUtilTest, SlotNames) {
  v1::SlotRef a, b;
  a.set_host("imap1");
  a.set_slot("s3");
  b = a;
  EXPECT_EQ(SlotName(a), "imap1/s3");
  EXPECT_TRUE(SameSlot(a, b));
  b.set_slot("s4");
  EXPECT_FALSE(SameSlot(a, b));
}

TEST(ModelUtilTest, EnumNamesAreShortAndLowerCase) {
  EXPECT_EQ(Name(v1::HOST_UP), "up");
  EXPECT_EQ(Name(v1::STORE_NO_MASTER), "no-master");
  EXPECT_EQ(Name(v1::FS_IO_ERROR), "io-error");
  EXPECT_EQ(Name(v1::READ_ONLY), "read-only");
  EXPECT_EQ(Name(v1::SLOT_SEEDING), "seeding");
  EXPECT_EQ(Name(v1::TASK_RE_REPLICATE), "re-replicate");
  EXPECT_EQ(Name(v1::TASK_BACKOFF), "backoff");
  EXPECT_EQ(Name(v1::AUTOMATION_FROZEN), "frozen");
  EXPECT_EQ(Name(v1::CRITICAL), "critical");
  EXPECT_EQ(Name(v1::SUBJECT_UNIT), "unit");
  EXPECT_EQ(Name(v1::HOST_STATE_UNSPECIFIED), "unknown");
  EXPECT_EQ(Name(static_cast<v1::StoreState>(99)), "unknown");
}

TEST(ModelUtilTest, FormatDuration) {
  EXPECT_EQ(FormatDuration(-5), "0s");
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(850), "850ms");
  EXPECT_EQ(FormatDuration(45'000), "45s");
  EXPECT_EQ(FormatDuration(180'000), "3m");
  EXPECT_EQ(FormatDuration(2 * 3600'000 + 15 * 60'000), "2h15m");
  EXPECT_EQ(FormatDuration(3 * 3600'000), "3h");
  EXPECT_EQ(FormatDuration(76 * 3600'000), "3d4h");
}

TEST(ModelUtilTest, OneRuleForHardConditions) {
  for (v1::ConditionType t :
       {v1::READ_ONLY, v1::IO_ERROR, v1::HUNG_IO, v1::NOT_MOUNTED, v1::UNIT_OFFLINE}) {
    EXPECT_TRUE(IsHardConditionType(t)) << Name(t);
  }
  for (v1::ConditionType t : {v1::LOW_SPACE, v1::LOW_INODES, v1::CLOCK_SKEW, v1::KERNEL_ERROR,
                              v1::CONDITION_TYPE_UNSPECIFIED}) {
    EXPECT_FALSE(IsHardConditionType(t)) << Name(t);
  }
}

TEST(ModelUtilTest, UsableCopiesCountOnlyServingRoles) {
  v1::StoreInfo store;
  auto add = [&](v1::SlotRole role, bool usable) {
    v1::Copy* c = store.add_copies();
    c->set_role(role);
    c->set_usable(usable);
  };
  add(v1::SLOT_MASTER, true);
  add(v1::SLOT_REPLICA, true);
  add(v1::SLOT_REPLICA, false);
  add(v1::SLOT_SEEDING, true);  // not complete yet
  add(v1::SLOT_LOST, true);
  EXPECT_EQ(CountUsableCopies(store), 2);
  EXPECT_FALSE(IsServingRole(v1::SLOT_SPARE));
}

TEST(ModelUtilTest, FinishedTasks) {
  EXPECT_TRUE(IsTaskFinished(v1::TASK_DONE));
  EXPECT_TRUE(IsTaskFinished(v1::TASK_FAILED));
  EXPECT_TRUE(IsTaskFinished(v1::TASK_CANCELLED));
  EXPECT_FALSE(IsTaskFinished(v1::TASK_BACKOFF));
  EXPECT_FALSE(IsTaskFinished(v1::TASK_RUNNING));
  EXPECT_FALSE(IsTaskFinished(v1::TASK_QUEUED));
}

TEST(ModelUtilTest, ValidateNameAcceptsTheUsualNames) {
  for (const char* n : {"imap1", "du2", "s07", "st-4", "alice@example.com", "user.name_2", "a"}) {
    EXPECT_TRUE(ValidateName(NameKind::kHost, n).ok()) << n;
  }
  EXPECT_TRUE(ValidateName(NameKind::kUser, std::string(kMaxNameBytes, 'x')).ok());
}

TEST(ModelUtilTest, ValidateNameRefusesWithTheReason) {
  struct Case {
    NameKind kind;
    std::string name;
    std::string expected;
  };
  const Case cases[] = {
      {NameKind::kHost, "", "host name is empty"},
      {NameKind::kHost, "imap 1", "host name \"imap 1\" contains a space"},
      {NameKind::kHost, " imap1", "contains a space"},
      {NameKind::kUnit, "du/2", "drive unit name \"du/2\" contains '/'"},
      {NameKind::kSlot, ".hidden", "slot name \".hidden\" starts with '.'"},
      {NameKind::kSlot, "..", "starts with '.'"},
      {NameKind::kStore, "-rf", "store name \"-rf\" starts with '-'"},
      {NameKind::kUser, "bob\nfake log line",
       "user name \"bob\\x0afake log line\" contains the byte 0x0a"},
      {NameKind::kUser, "caf\xc3\xa9", "contains the byte 0xc3"},
      {NameKind::kUser, std::string(kMaxNameBytes + 1, 'x'), "longer than 255 bytes"},
  };
  for (const Case& c : cases) {
    absl::Status st = ValidateName(c.kind, c.name);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.expected)) << c.name;
  }
}

}  // namespace
}  // namespace slotkeeper::model
