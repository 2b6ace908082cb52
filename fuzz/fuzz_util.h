// Helpers shared by the fuzz targets: a private temporary directory per
// fuzzing process, emptied between inputs, and the check that fails a run.
#ifndef SLOTKEEPER_FUZZ_FUZZ_UTIL_H_
#define SLOTKEEPER_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace slotkeeper::fuzz {

// A finding: prints what was violated and aborts, so that libFuzzer keeps
// the input as a crash.
#define FUZZ_CHECK(cond, ...)                                 \
  do {                                                        \
    if (!(cond)) {                                            \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);                      \
      std::fprintf(stderr, "\n");                             \
      std::abort();                                           \
    }                                                         \
  } while (0)

// A new directory under $TMPDIR (else /tmp) for this process; removed by
// nobody (libFuzzer ends with _exit), so tools/dev fuzz points TMPDIR at
// its own temporary directory.
inline std::string MakeTempDir(const char* name) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/" + name + ".XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

// Removes everything below `dir`, keeping `dir`.
inline void EmptyDir(const std::string& dir) {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
    std::filesystem::remove_all(entry.path(), ignored);
  }
}

}  // namespace slotkeeper::fuzz

#endif  // SLOTKEEPER_FUZZ_FUZZ_UTIL_H_
