// Helpers shared by the conformance, integration and end-to-end tests.
#pragma once

#include <filesystem>
#include <string>

namespace sacker::test {

// Loads KEY=VALUE lines from $SACKER_TEST_ENV_FILE (written by
// scripts/servers/<name>.sh start) into the environment, once. Throws
// std::runtime_error if the variable names a file that does not exist.
void load_test_env();

// A fresh token for one test: 12 lower-case letters and digits, starting with a letter.
std::string unique_token();

// Replaces {unique} with `unique` and {NAME} with $NAME. Throws
// std::runtime_error naming a variable that is not set.
std::string expand_template(const std::string& tmpl, const std::string& unique);

// A new empty directory under $TMPDIR (or /tmp), removed by the caller if wanted.
std::filesystem::path make_temp_dir(const std::string& prefix);

// Writes `size` pseudo-random bytes from `seed` to `path`; returns their sha256.
std::string write_random_file(const std::filesystem::path& path, std::size_t size, unsigned seed);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

}  // namespace sacker::test
