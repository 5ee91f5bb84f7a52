// `sacker doctor`: the live check of client/doctor.h, one line per step.
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "client/doctor.h"
#include "sacker/error.h"
#include "sacker/uri.h"

namespace sacker::cli {
namespace {

const char* status_name(CheckStatus s) {
  switch (s) {
    case CheckStatus::Ok: return "ok";
    case CheckStatus::Failed: return "failed";
    case CheckStatus::Skipped: return "skipped";
    case CheckStatus::Expected: return "expected";
  }
  return "failed";
}

const char* symbol(CheckStatus s) {
  switch (s) {
    case CheckStatus::Ok: return "✔";
    case CheckStatus::Failed: return "✘";
    default: return "–";  // skipped, or denied as a PutObject-only client must be
  }
}

constexpr const char* kWriteOnly = "this is a PutObject-only client: add works, reads are denied (expected)";

void declare_doctor(CLI::App& c, Args& a) {
  c.add_flag("--read-only", a.read_only, "do not write the probes (skip the write steps)");
}

// Exit 0 when everything the role needs works; else the first failure's exit code.
void doctor(Session& s, const Args& a) {
  DoctorOptions options;
  options.read_only = a.read_only;
  DoctorReport report = run_doctor(s.config(), options);
  std::size_t failed = 0;
  for (const auto& c : report.checks) failed += c.status == CheckStatus::Failed;
  if (s.json()) {
    Json checks = Json::array();
    for (const auto& c : report.checks)
      checks.push_back({{"role", c.role},
                        {"uri", redact_uri(c.uri)},
                        {"step", c.step},
                        {"status", status_name(c.status)},
                        {"detail", diagnostic(c.detail)},
                        {"fix", c.fix}});
    s.out().json({{"ok", report.ok()}, {"write_only", report.write_only}, {"checks", checks}});
  } else {
    std::string role;
    for (const auto& c : report.checks) {
      if (c.role != role) s.out().text(fmt::format("{} {}", role = c.role, redact_uri(c.uri)));
      std::string text = fmt::format("  {} {}: {}", symbol(c.status), c.step, diagnostic(c.detail));
      if (c.status == CheckStatus::Expected) text += " (expected)";
      if (c.status == CheckStatus::Failed && !c.fix.empty()) text += fmt::format(" -> fix: {}", c.fix);
      s.out().text(text);
    }
    if (report.write_only) s.out().text(kWriteOnly);
    if (!s.quiet())
      s.out().text(failed == 0 ? "everything this client needs works"
                               : fmt::format("{} of {} checks failed", failed, report.checks.size()));
  }
  if (auto kind = report.failure())
    throw Error(*kind, fmt::format("doctor: {} of {} checks failed", failed, report.checks.size()));
}

}  // namespace

const std::vector<Command>& doctor_commands() {
  static const std::vector<Command> commands = {
      {"doctor", "check the ledger and store for real: reachable, credentials, list, read, write, clock",
       "sacker doctor [--read-only]", "sacker doctor --read-only", declare_doctor, doctor},
  };
  return commands;
}

}  // namespace sacker::cli
