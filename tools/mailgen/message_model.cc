#include "tools/mailgen/message_model.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace slotkeeper::mailgen {
namespace {

const char* kWords[] = {"meeting",  "report",   "invoice",   "the",      "and",      "project",
                        "schedule", "please",   "review",    "attached", "thanks",   "regards",
                        "update",   "server",   "quarterly", "budget",   "team",     "tomorrow",
                        "deadline", "customer", "release",   "notes",    "question", "about",
                        "your",     "order",    "shipping",  "confirm",  "account",  "password",
                        "holiday",  "lunch",    "friday",    "draft"};
const char* kNames[] = {"Alice Martin", "Bob Chen",  "Carla Rossi", "David Okafor", "Eva Novak",
                        "Farid Haddad", "Grace Kim", "Hugo Dubois", "Ines Garcia",  "Jonas Berg"};
const char* kDomains[] = {"example.org", "example.com", "mail.example.net", "lists.example.org"};

}  // namespace

Pools::Pools(Rng* rng) {
  while (text.size() < (2u << 20)) {
    std::string line;
    while (line.size() < 70) {
      absl::StrAppend(&line, kWords[rng->Below(std::size(kWords))], " ");
    }
    absl::StrAppend(&text, line, "\r\n");
  }
  static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  b64.reserve(5u << 20);
  while (b64.size() < (5u << 20)) {
    for (int i = 0; i < 76; ++i) b64.push_back(kB64[rng->Below(64)]);
    b64 += "\r\n";
  }
}

size_t MessageSize(Rng* rng) {
  double u = rng->Uniform();
  if (u < 0.70) return static_cast<size_t>(rng->LogUniform(2e3, 12e3));
  if (u < 0.92) return static_cast<size_t>(rng->LogUniform(12e3, 100e3));
  if (u < 0.99) return static_cast<size_t>(rng->LogUniform(100e3, 600e3));
  return static_cast<size_t>(rng->LogUniform(600e3, 4e6));
}

std::string Message(Rng* rng, const Pools& pools, const std::string& user, int64_t when,
                    uint64_t serial, size_t size) {
  const char* from = kNames[rng->Below(std::size(kNames))];
  const char* domain = kDomains[rng->Below(std::size(kDomains))];
  std::string subject;
  for (int i = 0, n = 3 + rng->Below(5); i < n; ++i) {
    absl::StrAppend(&subject, i ? " " : "", kWords[rng->Below(std::size(kWords))]);
  }
  std::string m = absl::StrFormat(
      "Return-Path: <sender%d@%s>\r\n"
      "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n"
      "\tby imap.example.net with ESMTPS id %016x\r\n"
      "\tfor <%s@example.net>; %s\r\n"
      "From: %s <sender%d@%s>\r\n"
      "To: %s@example.net\r\n"
      "Subject: %s\r\n"
      "Date: %s\r\n"
      "Message-ID: <%016x.%d@%s>\r\n"
      "MIME-Version: 1.0\r\n",
      serial % 97, domain, serial % 7, domain, serial % 7, domain, 1 + serial % 250, rng->Next(),
      user,
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", absl::FromUnixSeconds(when),
                       absl::UTCTimeZone()),
      from, serial % 97, domain, user, subject,
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", absl::FromUnixSeconds(when - 30),
                       absl::UTCTimeZone()),
      rng->Next(), serial, domain);
  if (size < 40000) {
    m += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    size_t need = size > m.size() ? size - m.size() : 64;
    size_t off = rng->Below(pools.text.size() - need - 1);
    m.append(pools.text, off, need);
  } else {
    m += "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    m.append(pools.text, rng->Below(pools.text.size() / 2), 1500);
    m += absl::StrFormat(
        "\r\n--b1\r\nContent-Type: application/pdf; name=\"doc%d.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n",
        serial);
    size_t need = size > m.size() + 10 ? size - m.size() - 10 : 64;
    need = std::min(need, pools.b64.size() - 1);
    size_t off = rng->Below(pools.b64.size() - need);
    m.append(pools.b64, off, need);
    m += "\r\n--b1--\r\n";
  }
  return m;
}

std::string Flags(Rng* rng) {
  double u = rng->Uniform();
  if (u < 0.70) return "S";
  if (u < 0.85) return "RS";
  if (u < 0.93) return "FS";
  if (u < 0.97) return "";
  return "ST";
}

}  // namespace slotkeeper::mailgen
