// kit/upload_journal.h: the local journal of a resumable multipart upload.
#include "kit/upload_journal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "support/test_env.h"

namespace sacker {
namespace {

namespace fs = std::filesystem;

class UploadJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("sacker-upload-journal");
    file_ = dir_ / "blob.bin";
    test::write_file(file_, "some bytes");
  }
  void TearDown() override { fs::remove_all(dir_); }
  UploadJournal journal(const std::string& store = "s3://b/p/") {
    return UploadJournal(store, std::string(64, 'a'), file_, 10, dir_ / "uploads");
  }
  static UploadJournalState sample() {
    UploadJournalState s{"p/aaaa", "upload-1", 5u << 20, {}, 1700000000};
    s.parts[1] = {"\"etag-1\"", std::string(64, 'b')};
    s.parts[3] = {"\"etag-3\"", std::string(64, 'c')};
    return s;
  }
  fs::path dir_, file_;
};

TEST_F(UploadJournalTest, RoundTripsAndIsRemoved) {
  auto j = journal();
  EXPECT_FALSE(j.load());
  ASSERT_TRUE(j.save(sample()));
  auto back = journal().load();  // a later process: the same identity, the same file
  ASSERT_TRUE(back);
  EXPECT_EQ(back->upload_id, "upload-1");
  EXPECT_EQ(back->part_size, 5u << 20);
  ASSERT_EQ(back->parts.size(), 2u);
  EXPECT_EQ(back->parts.at(3).etag, "\"etag-3\"");
  EXPECT_EQ(back->parts.at(1).sha256, std::string(64, 'b'));
  j.remove();
  EXPECT_FALSE(journal().load());
}

TEST_F(UploadJournalTest, AnotherStoreOrAChangedFileHasNoJournal) {
  ASSERT_TRUE(journal().save(sample()));
  EXPECT_FALSE(journal("s3://other/p/").load());
  struct timespec times[2] = {{0, UTIME_OMIT}, {1234567, 0}};  // a new mtime: another identity
  ASSERT_EQ(::utimensat(AT_FDCWD, file_.c_str(), times, 0), 0);
  EXPECT_FALSE(journal().load());
}

TEST_F(UploadJournalTest, GarbageOrABadPartIsNoJournal) {
  auto j = journal();
  ASSERT_TRUE(j.save(sample()));
  test::write_file(j.path(), "{\"format\": 1, \"identity\": ");
  EXPECT_FALSE(j.load());
  auto bad = sample();
  bad.parts[2] = {"\"e\"", "not a sha"};
  ASSERT_TRUE(j.save(bad));
  EXPECT_FALSE(j.load());
}

TEST_F(UploadJournalTest, AnUnwritableDirectoryOnlyCostsTheResume) {
  test::write_file(dir_ / "file", "x");
  UploadJournal j("s3://b/p/", std::string(64, 'a'), file_, 10, dir_ / "file" / "uploads");
  EXPECT_FALSE(j.save(sample()));
  EXPECT_FALSE(j.load());
}

}  // namespace
}  // namespace sacker
