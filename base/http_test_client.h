// A minimal blocking HTTP/1.1 client for tests of the daemons' HTTP port
// (metrics, status page): one request per connection, to loopback only.
#ifndef SLOTKEEPER_BASE_HTTP_TEST_CLIENT_H_
#define SLOTKEEPER_BASE_HTTP_TEST_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"

namespace slotkeeper::testing {

struct HttpReply {
  int status = 0;
  std::string headers;  // the header block, lines joined by "\r\n"
  std::string body;
};

// Sends `METHOD path HTTP/1.1` to port on 127.0.0.1 and reads the reply
// until the server closes the connection.
absl::StatusOr<HttpReply> HttpRequestTo(int port, const std::string& method,
                                        const std::string& path);
inline absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path) {
  return HttpRequestTo(port, "GET", path);
}

}  // namespace slotkeeper::testing

#endif  // SLOTKEEPER_BASE_HTTP_TEST_CLIENT_H_
