// A coordinator (CoordinatorFixture) with its HTTP pages
// (CoordinatorHttpHandlers) served on a free loopback port, for tests of the
// status page and its JSON.
#ifndef SLOTKEEPER_SLOTMGR_TESTING_HTTP_FIXTURE_H_
#define SLOTKEEPER_SLOTMGR_TESTING_HTTP_FIXTURE_H_

#include <memory>
#include <utility>

#include "base/http_server.h"
#include "slotmgr/http_handlers.h"
#include "slotmgr/testing/coordinator_fixture.h"

namespace slotkeeper::slotmgr::testing {

class CoordinatorHttpFixture : public CoordinatorFixture {
 protected:
  void SetUp() override {
    CoordinatorFixture::SetUp();
    HttpServer::Options options;
    options.handlers = CoordinatorHttpHandlers(coord_.get());
    auto server = HttpServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    http_ = std::move(*server);
  }
  void TearDown() override {
    http_.reset();
    CoordinatorFixture::TearDown();
  }

  std::unique_ptr<HttpServer> http_;
};

}  // namespace slotkeeper::slotmgr::testing

#endif  // SLOTKEEPER_SLOTMGR_TESTING_HTTP_FIXTURE_H_
