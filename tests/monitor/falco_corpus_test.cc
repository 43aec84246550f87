// Falco compatibility, measured: the official rule files (../shared/corpora/falco-rules) load
// unmodified; the number of rules that load must not drop below what docs/falco-compat.md records,
// and every skipped rule must carry a reason.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <cstdlib>
#include <map>

#include "runguard/common/strings.h"

#include "monitor_test_util.h"

namespace {

using namespace rgmon;  // NOLINT(google-build-using-namespace)

struct Expected {
  const char* file;
  size_t min_loaded;  // enabled rules that load
};

// Measured numbers; update docs/falco-compat.md together with these.
constexpr Expected kExpected[] = {
    {"falco_rules.yaml", 14},
    {"falco-incubating_rules.yaml", 16},
    {"falco-sandbox_rules.yaml", 12},
};

std::string corpus_dir() { return std::string(RUNGUARD_SHARED_DIR) + "/corpora/falco-rules"; }

TEST(FalcoCorpus, OfficialRuleFilesLoadAndCountsDoNotDrop) {
  if (!std::filesystem::exists(corpus_dir())) {
    GTEST_SKIP() << "no Falco rules corpus at " << corpus_dir() << " (../shared is absent); compatibility not measured";
  }
  for (const auto& e : kExpected) {
    std::string path = corpus_dir() + "/" + e.file;
    auto rs = load_rules({RuleFile{path, read_file(path)}});
    ASSERT_TRUE(rs.is_ok()) << rs.status().message();
    std::map<std::string, int> by_category;
    for (const auto& s : rs->skipped) {
      EXPECT_FALSE(s.reason.empty()) << s.name;
      EXPECT_FALSE(s.category.empty()) << s.name;
      ++by_category[s.category];
    }
    std::cout << "[ corpus   ] " << e.file << ": loaded " << rs->rules.size() << ", disabled " << rs->disabled.size()
              << ", skipped " << rs->skipped.size() << " (";
    for (const auto& [k, v] : by_category) std::cout << k << "=" << v << " ";
    std::cout << "), warnings " << rs->warnings.size() << ", macros " << rs->macros << ", lists " << rs->lists << "\n";
    if (getenv("RG_CORPUS_VERBOSE") != nullptr) {
      for (const auto& r : rs->rules) std::cout << "    LOAD " << r.name << " [" << runguard::join(r.event_types, ",") << "]\n";
      for (const auto& n : rs->disabled) std::cout << "    DISABLED " << n << "\n";
      for (const auto& s : rs->skipped) std::cout << "    SKIP " << s.name << ": " << s.category << ": " << s.reason << "\n";
      for (const auto& w : rs->warnings) std::cout << "    WARN " << w.name << ": " << w.message << "\n";
    }
    EXPECT_GE(rs->rules.size(), e.min_loaded) << e.file;
  }
}

}  // namespace
