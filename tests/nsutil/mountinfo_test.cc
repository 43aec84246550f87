#include "runguard/nsutil/mountinfo.h"

#include <gtest/gtest.h>

namespace runguard::nsutil {
namespace {

TEST(Mountinfo, ParsesFieldsAndOptionalFields) {
  auto r = parse_mountinfo(
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
      "35 22 0:30 / /run rw,nosuid,nodev - tmpfs tmpfs rw,size=1g,mode=755\n"
      "36 22 0:31 / /x rw shared:5 master:3 propagate_from:2 unbindable - proc proc rw\n");
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ(r->size(), 3u);
  const MountInfo& root = (*r)[0];
  EXPECT_EQ(root.id, 22u);
  EXPECT_EQ(root.parent, 1u);
  EXPECT_EQ(root.root, "/");
  EXPECT_EQ(root.mount_point, "/");
  EXPECT_EQ(root.options, "rw,relatime");
  EXPECT_EQ(root.fstype, "ext4");
  EXPECT_EQ(root.source, "/dev/sda1");
  EXPECT_EQ(root.super_options, "rw,errors=remount-ro");
  EXPECT_EQ((*r)[1].options, "rw,nosuid,nodev");
  EXPECT_EQ((*r)[2].mount_point, "/x");
  EXPECT_EQ((*r)[2].fstype, "proc");
}

TEST(Mountinfo, DecodesOctalEscapesInPathsAndSource) {
  auto r = parse_mountinfo("40 22 0:40 /a\\040b /mnt/with\\040space\\011tab\\134 rw - fuse.my\\040fs src\\012x rw\n");
  ASSERT_TRUE(r) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].root, "/a b");
  EXPECT_EQ((*r)[0].mount_point, "/mnt/with space\ttab\\");
  EXPECT_EQ((*r)[0].fstype, "fuse.my fs");
  EXPECT_EQ((*r)[0].source, "src\nx");
}

TEST(Mountinfo, SkipsBlankLinesAndAcceptsMissingFinalNewline) {
  auto r = parse_mountinfo("\n22 1 8:1 / / rw - ext4 /dev/sda1 rw");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->size(), 1u);
  auto empty = parse_mountinfo("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(Mountinfo, MalformedLineIsAnErrorNamingItsNumber) {
  const char* bad[] = {
      "22 1 8:1 / / rw ext4 /dev/sda1 rw\n",                 // no separator
      "x 1 8:1 / / rw - ext4 /dev/sda1 rw\n",                // id not a number
      "22 1 8:1 / / rw - ext4 /dev/sda1\n",                  // super options missing
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw extra\n",         // too many after separator
      "22 1 81 / / rw - ext4 /dev/sda1 rw\n",                // no maj:min
  };
  for (const char* line : bad) {
    std::string text = std::string("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n") + line;
    auto r = parse_mountinfo(text);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();
  }
}

TEST(Mountinfo, ReadsTheRealMountinfoAndFindsRoot) {
  auto r = read_mountinfo();
  ASSERT_TRUE(r) << r.status().to_string();
  auto root = top_mount_at(*r, "/");
  ASSERT_TRUE(root.has_value());
  EXPECT_FALSE(root->fstype.empty());
  auto self = mount_of("/");
  ASSERT_TRUE(self) << self.status().to_string();
  EXPECT_EQ(self->id, root->id);
  EXPECT_EQ(self->mount_point, "/");
}

TEST(Mountinfo, ReadMissingFileNamesIt) {
  auto r = read_mountinfo("/nonexistent/mountinfo");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().to_string().find("/nonexistent/mountinfo"), std::string::npos);
}

TEST(Mountinfo, MountOfMissingPathIsAnError) {
  auto r = mount_of("/nonexistent/path/for/runguard");
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("/nonexistent/path/for/runguard"), std::string::npos);
}

TEST(Mountinfo, TopMountAtPicksTheStackedMountAndNormalises) {
  auto r = parse_mountinfo(
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "50 22 0:50 / /run/rootfs rw - overlay overlay rw,lowerdir=/l\n"
      "60 50 0:60 / /run/rootfs rw - overlay overlay rw,lowerdir=/m\n"
      // Attached beneath 60 by propagation, listed after it: the top is still 60.
      "70 22 0:70 / /run/other rw - tmpfs tmpfs rw\n");
  ASSERT_TRUE(r);
  auto top = top_mount_at(*r, "/run//rootfs/");
  ASSERT_TRUE(top.has_value());
  EXPECT_EQ(top->id, 60u);
  EXPECT_FALSE(top_mount_at(*r, "/run").has_value());
  auto beneath = parse_mountinfo(
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "60 50 0:60 / /r rw - tmpfs a rw\n"
      "50 22 0:50 / /r rw - tmpfs b rw\n");
  ASSERT_TRUE(beneath);
  auto t2 = top_mount_at(*beneath, "/r");
  ASSERT_TRUE(t2.has_value());
  EXPECT_EQ(t2->id, 60u);
}

std::vector<uint64_t> ids(const std::vector<MountInfo>& mounts) {
  std::vector<uint64_t> out;
  for (const MountInfo& m : mounts) out.push_back(m.id);
  return out;
}

TEST(Mountinfo, MountsUnderAreDeepestThenNewestFirst) {
  auto r = parse_mountinfo(
      "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "30 22 0:30 / /run/c rw - tmpfs a rw\n"
      "31 30 0:31 / /run/c/rootfs rw - overlay o rw,lowerdir=/l\n"
      "32 31 0:32 / /run/c/rootfs/proc rw - proc proc rw\n"
      "33 31 0:33 / /run/c/rootfs rw - overlay o rw,lowerdir=/m\n"   // stacked on 31: newer
      "34 22 0:34 / /run/cc rw - tmpfs b rw\n"                        // a sibling name, not below
      "35 31 0:35 / /run/c/rootfs/dev rw - tmpfs c rw\n"
      "36 30 0:36 / /run/c rw - tmpfs d rw\n");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(ids(mounts_under(*r, "/run/c")), (std::vector<uint64_t>{32, 35, 33, 31, 36, 30}));
  EXPECT_EQ(ids(mounts_under(*r, "/run/c/rootfs/")), (std::vector<uint64_t>{32, 35, 33, 31}));
  EXPECT_EQ(ids(mounts_under(*r, "/run//c/./rootfs/proc")), (std::vector<uint64_t>{32}));
  EXPECT_EQ(ids(mounts_under(*r, "/run/cc")), (std::vector<uint64_t>{34}));
  EXPECT_TRUE(mounts_under(*r, "/run/c/root").empty());
  EXPECT_TRUE(mounts_under(*r, "/nothing").empty());
  EXPECT_EQ(mounts_under(*r, "/").size(), r->size());
  EXPECT_EQ(mounts_under(*r, "/").back().id, 22u);
}

TEST(Overlay, LayersFromSuperOptions) {
  auto l = overlay_layers("rw,lowerdir=/l/1:/l/2:/l/3,upperdir=/s/fs,workdir=/s/work,index=off,redirect_dir=on");
  ASSERT_TRUE(l) << l.status().to_string();
  EXPECT_EQ(l->lower, (std::vector<std::string>{"/l/1", "/l/2", "/l/3"}));
  EXPECT_EQ(l->upper, "/s/fs");
  EXPECT_EQ(l->work, "/s/work");
  EXPECT_EQ(l->other_options, (std::vector<std::string>{"rw", "index=off", "redirect_dir=on"}));
}

TEST(Overlay, ReadOnlyOverlayHasNoUpper) {
  auto l = overlay_layers("ro,lowerdir=/a:/b");
  ASSERT_TRUE(l) << l.status().to_string();
  EXPECT_EQ(l->lower.size(), 2u);
  EXPECT_TRUE(l->upper.empty());
  EXPECT_TRUE(l->work.empty());
}

TEST(Overlay, UndoesKernelOctalAndOverlayBackslashEscapes) {
  // The user wrote lowerdir=/a\:b:/c\,d:/e\\f (':' ',' '\' escaped for overlayfs); mountinfo
  // then octal-escapes ',' and '\' (and ' ', '='): '\' -> \134, ',' -> \054.
  auto l = overlay_layers(
      "rw,lowerdir=/a\\134:b:/c\\134\\054d:/e\\134\\134f:/sp\\040ace,upperdir=/u\\134\\054p,workdir=/w\\075x");
  ASSERT_TRUE(l) << l.status().to_string();
  EXPECT_EQ(l->lower, (std::vector<std::string>{"/a:b", "/c,d", "/e\\f", "/sp ace"}));
  EXPECT_EQ(l->upper, "/u,p");
  EXPECT_EQ(l->work, "/w=x");
}

TEST(Overlay, AcceptsBackslashEscapedCommasWithoutOctal) {
  auto l = overlay_layers("lowerdir=/a\\,b:/c\\:d,upperdir=/u,workdir=/w");
  ASSERT_TRUE(l) << l.status().to_string();
  EXPECT_EQ(l->lower, (std::vector<std::string>{"/a,b", "/c:d"}));
}

TEST(Overlay, DataOnlyLayersAreKeptApartFromLowerLayers) {
  // What the kernel shows for lowerdir=/a:/b::/data1::/data2.
  auto l = overlay_layers("rw,lowerdir=/a:/b::/data1::/data2,metacopy=on");
  ASSERT_TRUE(l) << l.status().to_string();
  EXPECT_EQ(l->lower, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(l->data_only, (std::vector<std::string>{"/data1", "/data2"}));
  // And for the append syntax (linux 6.8+ shows layers this way).
  auto plus = overlay_layers("rw,lowerdir+=/a,lowerdir+=/b,datadir+=/d,upperdir=/u,workdir=/w");
  ASSERT_TRUE(plus) << plus.status().to_string();
  EXPECT_EQ(plus->lower, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(plus->data_only, (std::vector<std::string>{"/d"}));
  // An escaped colon is part of a name, not a data-only separator.
  auto escaped = overlay_layers("lowerdir=/a\\::/b");
  ASSERT_TRUE(escaped) << escaped.status().to_string();
  EXPECT_EQ(escaped->lower, (std::vector<std::string>{"/a:", "/b"}));
  EXPECT_TRUE(escaped->data_only.empty());
  EXPECT_TRUE(overlay_layers("lowerdir=/a:/b")->data_only.empty());
  // Data-only layers alone are no lowerdir.
  EXPECT_FALSE(overlay_layers("rw,datadir+=/d"));
}

TEST(Overlay, MissingLowerdirOrHalfAnUpperIsAnError) {
  EXPECT_FALSE(overlay_layers("rw,upperdir=/u,workdir=/w"));
  EXPECT_FALSE(overlay_layers("rw,lowerdir="));
  auto half = overlay_layers("rw,lowerdir=/a,upperdir=/u");
  ASSERT_FALSE(half);
  EXPECT_NE(half.status().message().find("workdir"), std::string::npos);
}

}  // namespace
}  // namespace runguard::nsutil
