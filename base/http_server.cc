#include "base/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>

#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"

namespace slotkeeper {
namespace {

// "IP:PORT" or "[IPv6]:PORT" split into host (brackets kept) and port.
absl::Status ParseAddress(absl::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("HTTP address \"", address, "\": ", why,
                                                   " (expected IP:PORT, e.g. 127.0.0.1:9464)"));
  };
  if (colon == absl::string_view::npos || colon == 0) return bad("no port");
  absl::string_view ip = address.substr(0, colon);
  int value = -1;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &value) || value < 0 || value > 65535) {
    return bad("port is not a number from 0 to 65535");
  }
  unsigned char buffer[sizeof(in6_addr)];
  const bool v6 = ip.size() > 2 && ip.front() == '[' && ip.back() == ']';
  const std::string bare(v6 ? ip.substr(1, ip.size() - 2) : ip);
  if (inet_pton(v6 ? AF_INET6 : AF_INET, bare.c_str(), buffer) != 1) {
    return bad("host is not an IP address");
  }
  *host = std::string(ip);
  *port = value;
  return absl::OkStatus();
}

int LogCivetweb(const mg_connection*, const char* message) {
  LogWarning("http", message);
  return 1;  // handled: civetweb writes nothing itself
}

void InitLibraryOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(MG_FEATURES_DEFAULT); });
}

// Every page on this port is the daemon's own: inline script and style,
// fetches to the same origin, nothing loaded from elsewhere, never framed.
// A name from outside that slipped into markup still could not load or send
// anything anywhere.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

void Send(mg_connection* conn, const HttpResponse& response, bool head) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
            "Content-Security-Policy: %s\r\nX-Frame-Options: DENY\r\n"
            "Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
            response.status, mg_get_response_code_text(conn, response.status),
            response.content_type.c_str(), response.body.size(), kContentSecurityPolicy);
  if (!head) mg_write(conn, response.body.data(), response.body.size());
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && HexDigit(in[i + 1]) >= 0 &&
               HexDigit(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(in[i + 1]) * 16 + HexDigit(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

}  // namespace

std::string QueryParam(absl::string_view query, absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.first == name) return PercentDecode(kv.second);
  }
  return std::string();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options) {
  if (options.handlers.empty()) return absl::InvalidArgumentError("HTTP server without handlers");
  std::string host;
  int port = 0;
  if (absl::Status s = ParseAddress(options.address, &host, &port); !s.ok()) return s;
  InitLibraryOnce();
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options)));
  server->host_ = host;
  const std::string listen = absl::StrCat(host, ":", port);
  const std::string threads = absl::StrCat(std::max(1, server->options_.threads));
  const char* civet_options[] = {
      "listening_ports", listen.c_str(),      "num_threads", threads.c_str(), "request_timeout_ms",
      "10000",           "enable_keep_alive", "no",          nullptr};
  mg_callbacks callbacks{};
  callbacks.begin_request = [](mg_connection* conn) {
    return Dispatch(conn, mg_get_user_data(mg_get_context(conn)));
  };
  callbacks.log_message = LogCivetweb;
  char error_text[256] = {0};
  mg_error_data error{nullptr, error_text, sizeof(error_text)};
  mg_init_data init{&callbacks, server.get(), civet_options};
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("HTTP server cannot listen on ", listen, ": ", error_text));
  }
  mg_server_port bound{};
  if (mg_get_server_ports(server->context_, 1, &bound) < 1) {
    return absl::InternalError(absl::StrCat("HTTP server on ", listen, " reports no port"));
  }
  server->port_ = bound.port;
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

std::string HttpServer::address() const { return absl::StrCat(host_, ":", port_); }

int HttpServer::Dispatch(mg_connection* conn, void* self) {
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest request;
  request.method = info->request_method != nullptr ? info->request_method : "";
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  request.query = info->query_string != nullptr ? info->query_string : "";
  HttpResponse response;
  if (request.method != "GET" && request.method != "HEAD") {
    response = {405, "text/plain; charset=utf-8", "read-only: only GET and HEAD\n"};
  } else {
    try {
      response = static_cast<const HttpServer*>(self)->Serve(request);
    } catch (const std::exception& e) {
      LogError("http", absl::StrCat(request.path, ": ", e.what()));
      response = {500, "text/plain; charset=utf-8", "internal error\n"};
    }
  }
  Send(conn, response, request.method == "HEAD");
  return response.status;
}

HttpResponse HttpServer::Serve(const HttpRequest& request) const {
  auto exact = options_.handlers.find(request.path);
  if (exact != options_.handlers.end()) return exact->second(request);
  // The longest registered directory ("/x/") that holds the path.
  const HttpHandler* best = nullptr;
  size_t best_size = 0;
  for (const auto& [path, handler] : options_.handlers) {
    if (path.size() > 1 && path.back() == '/' && request.path.rfind(path, 0) == 0 &&
        path.size() > best_size) {
      best = &handler;
      best_size = path.size();
    }
  }
  if (best != nullptr) return (*best)(request);
  return {404, "text/plain; charset=utf-8", absl::StrCat("no page at ", request.path, "\n")};
}

}  // namespace slotkeeper
