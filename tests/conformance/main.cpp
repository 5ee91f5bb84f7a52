// main() of the conformance suites. Besides gtest's flags it takes
//   --uri-template=T   the backend URI template (else $SACKER_TEST_LEDGER / $SACKER_TEST_STORE)
//   --env-file=F       KEY=VALUE lines of the test server (else $SACKER_TEST_ENV_FILE)
// and finds conformance_worker next to its own executable (else $SACKER_TEST_WORKER).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#ifndef SACKER_CONFORMANCE_VAR
#error "define SACKER_CONFORMANCE_VAR"
#endif

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--uri-template=", 0) == 0)
      ::setenv(SACKER_CONFORMANCE_VAR, arg.substr(15).c_str(), 1);
    else if (arg.rfind("--env-file=", 0) == 0)
      ::setenv("SACKER_TEST_ENV_FILE", arg.substr(11).c_str(), 1);
  }
  if (!std::getenv("SACKER_TEST_WORKER")) {
    auto self = std::filesystem::read_symlink("/proc/self/exe");
    ::setenv("SACKER_TEST_WORKER", (self.parent_path() / "conformance_worker").c_str(), 1);
  }
  return RUN_ALL_TESTS();
}
