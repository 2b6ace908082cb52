// Checks that the generated code links and that the wire contracts the other
// components rely on hold: round trips, oneof bodies, stable enum numbers.

#include <gtest/gtest.h>

#include "proto/agent.grpc.pb.h"
#include "proto/automation.grpc.pb.h"
#include "proto/peer.grpc.pb.h"

namespace slotkeeper::v1 {
namespace {

TEST(ProtoTest, HealthReportRoundTrips) {
  AgentMessage msg;
  HealthReport* report = msg.mutable_report();
  report->set_report_id(42);
  report->set_agent_time_ms(1'700'000'000'000);
  Condition* c = report->add_conditions();
  c->set_type(READ_ONLY);
  c->set_subject_kind(SUBJECT_FILESYSTEM);
  c->set_subject("/srv/du2");
  c->set_reason("mounted ro");
  c->set_hard(true);

  std::string wire;
  ASSERT_TRUE(msg.SerializeToString(&wire));
  AgentMessage back;
  ASSERT_TRUE(back.ParseFromString(wire));
  ASSERT_EQ(back.body_case(), AgentMessage::kReport);
  EXPECT_EQ(back.report().report_id(), 42u);
  ASSERT_EQ(back.report().conditions_size(), 1);
  EXPECT_EQ(back.report().conditions(0).type(), READ_ONLY);
  EXPECT_TRUE(back.report().conditions(0).hard());
}

TEST(ProtoTest, CommandCarriesOneAction) {
  Command cmd;
  cmd.set_id("c-1");
  cmd.mutable_promote()->set_slot("s01");
  EXPECT_EQ(cmd.action_case(), Command::kPromote);
  cmd.mutable_demote()->set_slot("s01");
  EXPECT_EQ(cmd.action_case(), Command::kDemote);
  EXPECT_FALSE(cmd.has_promote());
}

TEST(ProtoTest, EnumZeroIsUnspecified) {
  EXPECT_EQ(HOST_STATE_UNSPECIFIED, 0);
  EXPECT_EQ(SLOT_ROLE_UNSPECIFIED, 0);
  EXPECT_EQ(STORE_STATE_UNSPECIFIED, 0);
  EXPECT_EQ(TASK_STATE_UNSPECIFIED, 0);
  HostInfo h;
  EXPECT_EQ(h.state(), HOST_STATE_UNSPECIFIED);
}

TEST(ProtoTest, ServicesHaveTheirMethods) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* automation = pool->FindServiceByName("slotkeeper.v1.Automation");
  ASSERT_NE(automation, nullptr);
  EXPECT_NE(automation->FindMethodByName("LookupUser"), nullptr);
  EXPECT_NE(automation->FindMethodByName("CheckConsistency"), nullptr);
  EXPECT_TRUE(automation->FindMethodByName("WatchEvents")->server_streaming());
  const auto* agent = pool->FindServiceByName("slotkeeper.v1.AgentService");
  ASSERT_NE(agent, nullptr);
  const auto* session = agent->FindMethodByName("Session");
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(session->client_streaming());
  EXPECT_TRUE(session->server_streaming());
  const auto* peer = pool->FindServiceByName("slotkeeper.v1.ReplicaPeer");
  ASSERT_NE(peer, nullptr);
  EXPECT_TRUE(peer->FindMethodByName("FetchFiles")->server_streaming());
}

}  // namespace
}  // namespace slotkeeper::v1
