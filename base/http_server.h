// A small read-only HTTP server for what operators and monitoring read from a
// daemon: Prometheus metrics (/metrics), the status page and its JSON.
// Backed by civetweb (Debian's libcivetweb), the embedded server that
// prometheus-cpp's own exposer uses.
//
// Only GET and HEAD are served (anything else is 405): nothing on this port
// changes the cluster, so it carries no authentication; changes go through the
// gRPC API with mutual TLS and roles. What it shows is cluster state (host,
// store and user counts, never mail), so daemons bind it to loopback unless
// the operator chooses an address.
//
// Every response forbids caching, sniffing and framing and carries a
// Content-Security-Policy that lets a page run only its own inline script and
// fetch only from this port.
//
// Handlers are registered before Start and run on civetweb's worker threads,
// several at once: they must be thread-safe.
#ifndef SLOTKEEPER_BASE_HTTP_SERVER_H_
#define SLOTKEEPER_BASE_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct mg_context;
struct mg_connection;

namespace slotkeeper {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD"
  std::string path;    // without the query, e.g. "/metrics"
  std::string query;   // after '?', undecoded; empty when none
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Returns the value of `name` in an undecoded query string ("a=1&b=x"), or
// an empty string when absent. Values are percent-decoded.
std::string QueryParam(absl::string_view query, absl::string_view name);

class HttpServer {
 public:
  struct Options {
    // "IP:PORT" (IPv4) or "[IPv6]:PORT"; port 0 picks a free one.
    std::string address = "127.0.0.1:0";
    int threads = 4;
    // Exact paths ("/metrics", "/") mapped to their handlers. A path
    // ending in '/' other than "/" also serves everything below it.
    std::map<std::string, HttpHandler> handlers;
  };

  // Listens and serves until destroyed. INVALID_ARGUMENT for a malformed
  // address or an empty handler table; UNAVAILABLE when the address cannot be
  // bound (civetweb's reason in the message).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stops listening and waits for running handlers

  int port() const { return port_; }
  // "127.0.0.1:PORT" with the port actually bound.
  std::string address() const;

 private:
  explicit HttpServer(Options options) : options_(std::move(options)) {}
  static int Dispatch(mg_connection* conn, void* self);
  HttpResponse Serve(const HttpRequest& request) const;

  Options options_;
  std::string host_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace slotkeeper

#endif  // SLOTKEEPER_BASE_HTTP_SERVER_H_
