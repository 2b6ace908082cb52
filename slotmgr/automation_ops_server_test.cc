// The Automation API's paging of the journal and its calls on hosts and
// tasks, through real gRPC to a served coordinator: ListEvents newest first
// with what remains, Drain's dry run, ForgetHost, CancelTask and RetryTask,
// each audited with the caller.
#include <grpcpp/grpcpp.h>

#include <string>

#include "gtest/gtest.h"
#include "proto/model_util.h"
#include "slotmgr/testing/server_fixture.h"

namespace slotkeeper::slotmgr {
namespace {

using testing::MakeInventory;
using testing::ServerFixture;

class AutomationOpsServerTest : public ServerFixture {
 protected:
  // Whether the journal holds an audit.call event whose text names `method`.
  bool Audited(const std::string& method) {
    for (const v1::Event& e : EventsOfKind("audit.call")) {
      if (e.text().find(method) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(AutomationOpsServerTest, ListEventsPagesBackFromTheNewest) {
  RegisterThree();
  CreateHealthyStore();
  const uint64_t last = coord_->queries().LastEventSeq();
  grpc::ClientContext ctx;
  v1::ListEventsRequest req;
  req.set_newest_first(true);
  req.set_limit(5);
  v1::ListEventsResponse resp;
  ASSERT_TRUE(automation_->ListEvents(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.events_size(), 5);
  EXPECT_EQ(resp.events(0).seq(), last);
  EXPECT_EQ(resp.remaining(), last - 5);
  grpc::ClientContext ctx2;
  req.set_before_seq(resp.events(4).seq());
  ASSERT_TRUE(automation_->ListEvents(&ctx2, req, &resp).ok());
  EXPECT_EQ(resp.events(0).seq(), last - 5);
  EXPECT_EQ(resp.remaining(), last - 10);
}

TEST_F(AutomationOpsServerTest, DrainDryRunForgetHostAndTaskCallsOverGrpc) {
  RegisterThree();
  CreateHealthyStore();
  RegisterHost(MakeInventory("imap4"));
  // Drain's plan: nothing changes.
  {
    grpc::ClientContext ctx;
    v1::DrainRequest req;
    req.set_host("imap1");
    req.set_dry_run(true);
    v1::DrainResponse resp;
    ASSERT_TRUE(automation_->Drain(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.masters_to_move(), 1u);
    EXPECT_FALSE(resp.done());
    EXPECT_FALSE(coord_->queries().GetHost("imap1")->draining());
  }
  // A running replacement task, cancelled, then refused a retry.
  absl::StatusOr<v1::MarkLostResponse> lost = MarkLost("imap3");
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_EQ(lost->tasks_created_size(), 1);
  const std::string id = lost->tasks_created(0);
  {
    grpc::ClientContext ctx;
    v1::CancelTaskRequest req;
    req.set_task(id);
    req.set_reason("testing");
    v1::TaskInfo resp;
    grpc::Status st = automation_->CancelTask(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.state(), v1::TASK_CANCELLED);
    EXPECT_NE(resp.note().find("testing"), std::string::npos) << resp.note();
  }
  {
    grpc::ClientContext ctx;
    v1::RetryTaskRequest req;
    req.set_task(id);
    v1::TaskInfo resp;
    grpc::Status st = automation_->RetryTask(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(st.error_message().find("cancelled"), std::string::npos) << st.error_message();
  }
  // imap4 is up: not forgettable; the refusal says why.
  {
    grpc::ClientContext ctx;
    v1::ForgetHostRequest req;
    req.set_host("imap4");
    v1::ForgetHostResponse resp;
    grpc::Status st = automation_->ForgetHost(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(st.error_message().find("is up"), std::string::npos) << st.error_message();
    EXPECT_TRUE(coord_->queries().GetHost("imap4").ok());
  }
  // A host on record that is down and holds nothing: forgotten.
  HostRecord gone;
  gone.mutable_info()->set_name("imap 9");
  gone.mutable_info()->set_state(v1::HOST_DOWN);
  gone.mutable_info()->set_last_heard_ms(1);
  StopServer();
  ASSERT_TRUE(store_->PutRawForTest("host/imap 9", gone.SerializeAsString()).ok());
  Restart();
  StartServer();
  {
    grpc::ClientContext ctx;
    v1::ForgetHostRequest req;
    req.set_host("imap 9");
    v1::ForgetHostResponse resp;
    grpc::Status st = automation_->ForgetHost(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(resp.done());
    EXPECT_EQ(coord_->queries().GetHost("imap 9").status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(EventsOfKind("host.forgotten").size(), 1u);
  for (const char* method : {"Drain", "CancelTask", "RetryTask", "ForgetHost"}) {
    EXPECT_TRUE(Audited(method)) << method << " not audited";
  }
}

}  // namespace
}  // namespace slotkeeper::slotmgr
