#include "proto/message_limits.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/agent.pb.h"

namespace slotkeeper {
namespace {

TEST(MessageLimitsTest, AnOrdinaryReportPasses) {
  v1::HealthReport r;
  r.set_agent_time_ms(5);
  v1::Condition* c = r.add_conditions();
  c->set_subject("du1");
  c->set_reason(std::string(4096, 'k'));
  v1::SlotContents* contents = r.add_contents();
  for (int i = 0; i < 1000; ++i) contents->add_users("u" + std::to_string(i));
  EXPECT_TRUE(CheckMessageLimits(r, MessageLimits(), "report").ok());
}

TEST(MessageLimitsTest, AMegabyteConditionTextIsRefusedByItsPath) {
  v1::HealthReport r;
  r.add_conditions()->set_reason("short");
  r.add_conditions()->set_reason(std::string(1 << 20, 'x'));
  absl::Status st = CheckMessageLimits(r, MessageLimits(), "report");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "report.conditions[1].reason is 1048576 bytes, at most 8192");
}

TEST(MessageLimitsTest, LongStringsInRepeatedStringsAndTooManyEntriesAreRefused) {
  v1::HealthReport r;
  v1::SlotContents* contents = r.add_contents();
  contents->add_users("a");
  contents->add_users(std::string(10000, 'u'));
  absl::Status st = CheckMessageLimits(r, MessageLimits(), "report");
  EXPECT_EQ(st.message(), "report.contents[0].users[1] is 10000 bytes, at most 8192");

  MessageLimits small;
  small.max_repeated = 3;
  v1::HealthReport many;
  for (int i = 0; i < 4; ++i) many.add_conditions();
  st = CheckMessageLimits(many, small, "report");
  EXPECT_EQ(st.message(), "report.conditions has 4 entries, at most 3");
}

TEST(MessageLimitsTest, NestedSingularMessagesAreWalked) {
  v1::AgentMessage m;
  m.mutable_ack()->set_error(std::string(9000, 'e'));
  absl::Status st = CheckMessageLimits(m, MessageLimits(), "message");
  EXPECT_EQ(st.message(), "message.ack.error is 9000 bytes, at most 8192");
}

}  // namespace
}  // namespace slotkeeper
