// Test helpers of the data path: real files and databases under
// TEST_TMPDIR. Test-only.
#ifndef SLOTKEEPER_REPLICATOR_SYNC_TEST_FILES_H_
#define SLOTKEEPER_REPLICATOR_SYNC_TEST_FILES_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {

inline std::string Tmp() { return std::getenv("TEST_TMPDIR"); }

inline void MkdirP(const std::string& path) {
  std::string acc;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    acc += part + "/";
    mkdir(acc.c_str(), 0755);
  }
}

inline void WriteFile(const std::string& path, const std::string& content,
                      int64_t mtime_s = 1700000000, mode_t mode = 0600) {
  MkdirP(path.substr(0, path.rfind('/')));
  std::ofstream(path, std::ios::binary) << content;
  chmod(path.c_str(), mode);
  struct timespec t[2] = {{mtime_s, 123}, {mtime_s, 123}};
  utimensat(AT_FDCWD, path.c_str(), t, 0);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Every regular file below `dir` with content, mtime and mode, for
// byte-for-byte comparisons. Includes temp files so leftovers show.
inline std::map<std::string, std::string> Tree(const std::string& dir, bool with_dirs = true) {
  std::map<std::string, std::string> out;
  std::string cmd = "cd '" + dir + "' 2>/dev/null && find . -mindepth 1 " +
                    (with_dirs ? "" : "-type f ") + "| sort";
  FILE* p = popen(cmd.c_str(), "r");
  char line[4096];
  while (p && fgets(line, sizeof(line), p)) {
    std::string rel(line);
    rel.pop_back();
    struct stat st;
    lstat((dir + "/" + rel).c_str(), &st);
    if (S_ISDIR(st.st_mode)) {  // directory mtimes are not replicated
      out[rel] = "dir|" + std::to_string(st.st_mode & 07777);
      continue;
    }
    out[rel] = ReadFile(dir + "/" + rel) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec) + "|" + std::to_string(st.st_mode & 07777);
  }
  if (p) pclose(p);
  return out;
}

inline std::unique_ptr<rocksdb::DB> OpenDb(const std::string& path) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(db);
}

}  // namespace slotkeeper::sync

#endif  // SLOTKEEPER_REPLICATOR_SYNC_TEST_FILES_H_
