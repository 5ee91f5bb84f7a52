# The JSON API tests (api_test.cpp): a real `sacker serve` on the embedded default, and
# the same tests on S3 (RadosGW, the rgw test server) as ledger and store.
add_executable(serve_api_tests api_test.cpp)
target_link_libraries(serve_api_tests PRIVATE test_support CURL::libcurl GTest::gmock GTest::gtest_main
  nlohmann_json::nlohmann_json)
target_include_directories(serve_api_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_options(serve_api_tests PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
target_compile_definitions(serve_api_tests PRIVATE SACKER_BINARY="$<TARGET_FILE:sacker>")
add_dependencies(serve_api_tests sacker)
gtest_discover_tests(serve_api_tests TEST_PREFIX "serve.api." DISCOVERY_MODE PRE_TEST
  PROPERTIES LABELS serve TIMEOUT 600)
gtest_discover_tests(serve_api_tests TEST_PREFIX "serve.api.s3." DISCOVERY_MODE PRE_TEST
  PROPERTIES LABELS "serve;s3" FIXTURES_REQUIRED server_rgw TIMEOUT 600
             ENVIRONMENT "SACKER_TEST_ENV_FILE=${CMAKE_BINARY_DIR}/test-servers/rgw/env;SACKER_API_TEST_URI=s3://{RGW_BUCKET}/{unique}")
