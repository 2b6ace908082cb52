// What mailgen's messages look like: a seeded random source that is the
// same on every platform, pools of body text, the size model (most a few
// KB, a tail of attachments up to a few MB) and the message text itself.
// Shared by generation, mutation and delivery so that all three write the
// same kind of mail. Nothing here touches the filesystem or the clock.
#ifndef SLOTKEEPER_TOOLS_MAILGEN_MESSAGE_MODEL_H_
#define SLOTKEEPER_TOOLS_MAILGEN_MESSAGE_MODEL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace slotkeeper::mailgen {

// splitmix64: tiny, fast and the same everywhere (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  double LogUniform(double lo, double hi) {
    return std::exp(std::log(lo) + Uniform() * (std::log(hi) - std::log(lo)));
  }

 private:
  uint64_t s_;
};

// Pools of body text and base64 the messages take slices of (fast; unique
// headers make each message distinct). About 7 MB.
struct Pools {
  std::string text;
  std::string b64;
  explicit Pools(Rng* rng);
};

// A message size in bytes, skewed like real mail.
size_t MessageSize(Rng* rng);

// The text of one message of about `size` bytes to `user`, received at
// `when` (unix seconds); `serial` makes its headers unique.
std::string Message(Rng* rng, const Pools& pools, const std::string& user, int64_t when,
                    uint64_t serial, size_t size);

// The flags of a message read some time ago ("S", "RS", ...).
std::string Flags(Rng* rng);

}  // namespace slotkeeper::mailgen

#endif  // SLOTKEEPER_TOOLS_MAILGEN_MESSAGE_MODEL_H_
