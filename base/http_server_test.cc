#include "base/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "base/http_test_client.h"

namespace slotkeeper {
namespace {

using ::slotkeeper::testing::HttpGet;
using ::slotkeeper::testing::HttpRequestTo;
using ::testing::HasSubstr;

HttpServer::Options TwoPages(std::atomic<int>* calls) {
  HttpServer::Options options;
  options.handlers["/metrics"] = [calls](const HttpRequest& r) {
    ++*calls;
    return HttpResponse{200, "text/plain; version=0.0.4", "up 1\n# query " + r.query + "\n"};
  };
  options.handlers["/static/"] = [](const HttpRequest& r) {
    return HttpResponse{200, "text/html", "file " + r.path};
  };
  return options;
}

TEST(HttpServerTest, ServesRegisteredPathsOnAFreePort) {
  std::atomic<int> calls{0};
  auto server = HttpServer::Start(TwoPages(&calls));
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->address(), "127.0.0.1:" + std::to_string((*server)->port()));

  auto reply = HttpGet((*server)->port(), "/metrics?name%5B%5D=up");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 200);
  EXPECT_THAT(reply->headers, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(reply->headers, HasSubstr("Cache-Control: no-store"));
  EXPECT_EQ(reply->body, "up 1\n# query name%5B%5D=up\n");
  EXPECT_EQ(calls.load(), 1);

  auto file = HttpGet((*server)->port(), "/static/app.js");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->body, "file /static/app.js");
}

TEST(HttpServerTest, RefusesWhatItDoesNotServe) {
  std::atomic<int> calls{0};
  auto server = HttpServer::Start(TwoPages(&calls));
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  auto missing = HttpGet(port, "/nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("/nothing"));

  auto post = HttpRequestTo(port, "POST", "/metrics");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);

  auto head = HttpRequestTo(port, "HEAD", "/metrics");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(calls.load(), 1);  // HEAD runs the handler, POST does not
}

TEST(HttpServerTest, AHandlerThatThrowsGivesA500AndTheServerGoesOn) {
  HttpServer::Options options;
  options.handlers["/boom"] = [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("boom");
  };
  options.handlers["/ok"] = [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok"};
  };
  auto server = HttpServer::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  auto boom = HttpGet((*server)->port(), "/boom");
  ASSERT_TRUE(boom.ok());
  EXPECT_EQ(boom->status, 500);
  auto ok = HttpGet((*server)->port(), "/ok");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->body, "ok");
}

TEST(HttpServerTest, BadAddressesAreRefusedByName) {
  std::atomic<int> calls{0};
  for (const char* address :
       {"", "127.0.0.1", "localhost:80", "127.0.0.1:70000", "1.2.3:80", "127.0.0.1:x", "[::1:80"}) {
    HttpServer::Options options = TwoPages(&calls);
    options.address = address;
    auto server = HttpServer::Start(std::move(options));
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(std::string(server.status().message()), HasSubstr("IP:PORT")) << address;
  }
  EXPECT_EQ(HttpServer::Start(HttpServer::Options{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, APortInUseIsUnavailable) {
  std::atomic<int> calls{0};
  auto first = HttpServer::Start(TwoPages(&calls));
  ASSERT_TRUE(first.ok());
  HttpServer::Options options = TwoPages(&calls);
  options.address = (*first)->address();
  auto second = HttpServer::Start(std::move(options));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr((*first)->address()));
}

TEST(HttpServerTest, QueryParamDecodes) {
  EXPECT_EQ(QueryParam("a=1&b=x%20y+z&c", "b"), "x y z");
  EXPECT_EQ(QueryParam("a=1&b=2", "c"), "");
  EXPECT_EQ(QueryParam("a=%zz%4", "a"), "%zz%4");
  EXPECT_EQ(QueryParam("", "a"), "");
}

}  // namespace
}  // namespace slotkeeper
