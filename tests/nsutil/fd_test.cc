#include "runguard/nsutil/fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>

namespace runguard::nsutil {
namespace {

TEST(UniqueFd, ClosesOnDestructionAndMove) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed exactly once, by b
}

TEST(UniqueFd, ReleaseGivesUpOwnership) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  { UniqueFd a(raw); EXPECT_EQ(a.release(), raw); }
  EXPECT_NE(::fcntl(raw, F_GETFD), -1);
  ::close(raw);
}

}  // namespace
}  // namespace runguard::nsutil
