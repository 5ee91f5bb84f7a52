#include "cli/commands.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/output.h"
#include "cli/progress.h"
#include "sacker/backends.h"
#include "sacker/client.h"
#include "sacker/config.h"
#include "sacker/error.h"
#include "sacker/log.h"
#include "sacker/names.h"
#include "sacker/uri.h"

namespace sacker::cli {
namespace {

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
}

Client open_client(const Globals& g) {
  Config config = resolve_config({g.ledger, g.store, g.config}, process_env());
  if (g.verbose) {
    set_verbose_log([](const std::string& line) { std::fprintf(stderr, "sacker: %s\n", line.c_str()); });
    std::string stores;
    for (const auto& s : config.stores) stores += (stores.empty() ? "" : ", ") + redact_uri(s);
    std::fprintf(stderr, "sacker: ledger %s, store %s (%s)\n", redact_uri(config.ledger).c_str(), stores.c_str(),
                 config.source.c_str());
  }
  return Client(open_ledger(config.ledger), open_store_chain(config.stores));
}

Metadata parse_meta(const std::vector<std::string>& items) {
  Metadata m;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      throw Error(ErrorKind::Invalid, fmt::format("invalid --meta '{}': expected key=value", printable(item)));
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    validate_metadata_key(key);
    validate_metadata_value(value);
    m[key] = value;
  }
  return m;
}

}  // namespace

std::string version_text() {
  std::string ledgers, stores;
  for (const auto& b : ledger_schemes()) ledgers += " " + std::string(b.scheme);
  for (const auto& b : store_schemes()) stores += " " + std::string(b.scheme);
  return fmt::format("sacker {}\nledgers:{}\nstores:{}\n", SACKER_VERSION, ledgers, stores);
}

int run_command(const std::string& command, const Globals& g, const Args& a) {
  Client client = open_client(g);

  if (command == "list") {
    auto packages = client.list();
    if (g.json) return print(json_string_list("packages", packages)), 0;
    for (const auto& p : packages) print(p);
    return 0;
  }
  if (command == "versions") {
    auto versions = client.versions(a.package);
    if (g.json) return print(versions_json(a.package, versions)), 0;
    for (auto v : versions) print(std::to_string(v));
    return 0;
  }
  if (command == "tags") {
    auto tags = client.tags(a.package);
    if (g.json) return print(tags_json(a.package, tags)), 0;
    for (const auto& [t, v] : tags) print(fmt::format("{} {}", t, v));
    return 0;
  }
  if (command == "info") {
    auto info = client.info(a.package, parse_spec(a.spec));
    print(g.json ? record_json(info.record, info.tags) : record_human(info.record, info.tags));
    return 0;
  }
  if (command == "add") {
    AddRequest request;
    request.package = a.package;
    request.source = a.file;
    if (!a.name.empty()) request.basename = a.name;
    request.metadata = parse_meta(a.meta);
    request.tags = a.tags;
    auto progress = make_progress("upload " + a.package, g.quiet);
    auto result = client.add(request, progress.get());
    if (g.json) {
      std::vector<std::string> tags;
      try {
        tags = client.info(a.package, Spec{Spec::Kind::Version, result.record.version, ""}).tags;
      } catch (const Error& e) {
        // Write-only CI credentials may add but not read tags: report the tags this add set.
        if (e.kind() != ErrorKind::Denied) throw;
        tags = request.tags;
      }
      print(record_json(result.record, tags));
    } else {
      print(std::to_string(result.record.version));
      if (g.verbose)
        std::fprintf(stderr, "sacker: %s %s, %s\n", result.uploaded ? "uploaded" : "store already had",
                     result.record.sha256.c_str(), human_size(result.record.size).c_str());
    }
    return 0;
  }
  if (command == "download") {
    Spec spec = parse_spec(a.spec);
    if (a.output_set && a.output == "-") {
      auto progress = make_progress("download " + a.package, true);
      client.download_to_fd(a.package, spec, STDOUT_FILENO, false, progress.get());
      return 0;
    }
    std::optional<std::filesystem::path> output;
    if (a.output_set) output = a.output;
    auto progress = make_progress("download " + a.package, g.quiet);
    auto result = client.download(a.package, spec, output, progress.get());
    const auto& r = result.record;
    if (g.json) {
      print(json_object({{"package", json_quote(r.package)},
                         {"version", std::to_string(r.version)},
                         {"sha256", json_quote(r.sha256)},
                         {"size", std::to_string(r.size)},
                         {"path", json_quote(result.destination.string())},
                         {"transferred", result.transferred ? "true" : "false"}}));
    } else if (!g.quiet) {
      print(fmt::format("{} {} -> {} ({}{})", r.package, r.version, result.destination.string(), human_size(r.size),
                        result.transferred ? "" : ", already up to date"));
    }
    return 0;
  }
  if (command == "tag") {
    auto version = parse_version(a.version);
    client.tag(TagRequest{a.package, version, a.tag, "", TagExpectation::any()});
    if (g.json) return print(tags_json(a.package, {{a.tag, version}})), 0;
    if (!g.quiet) print(fmt::format("{} {} tagged {}", a.package, version, a.tag));
    return 0;
  }
  if (command == "untag") {
    client.untag(a.package, a.tag);
    if (g.json) return print(json_object({{"package", json_quote(a.package)}, {"untagged", json_quote(a.tag)}})), 0;
    if (!g.quiet) print(fmt::format("{}: removed tag {}", a.package, a.tag));
    return 0;
  }
  if (command == "remove") {
    auto version = parse_version(a.version);
    client.remove(a.package, version);
    if (g.json)
      return print(json_object({{"package", json_quote(a.package)}, {"removed", std::to_string(version)}})), 0;
    if (!g.quiet) print(fmt::format("{}: removed version {} (the blob stays until gc)", a.package, version));
    return 0;
  }
  if (command == "init") {
    client.init();
    if (g.json)
      return print(json_object({{"ledger", json_quote(client.ledger().describe())},
                                {"store", json_quote(client.store().describe())}})),
             0;
    if (!g.quiet)
      print(fmt::format("ready: ledger {}, store {}", client.ledger().describe(), client.store().describe()));
    return 0;
  }
  if (command == "gc") {
    auto report = client.gc(a.dry_run, parse_duration_seconds(a.grace));
    std::uint64_t bytes = 0;
    for (const auto& b : report.removed) bytes += b.size;
    if (g.json) {
      std::vector<std::string> shas;
      for (const auto& b : report.removed) shas.push_back(b.sha256);
      print(json_object({{"dry_run", a.dry_run ? "true" : "false"},
                         {"removed", json_string_array(shas)},
                         {"bytes", std::to_string(bytes)},
                         {"referenced", std::to_string(report.referenced)},
                         {"young", std::to_string(report.young)}}));
      return 0;
    }
    if (!g.quiet) {
      for (const auto& b : report.removed)
        print(fmt::format("{} {}", a.dry_run ? "would remove" : "removed", b.sha256));
      print(fmt::format("{} {} blobs ({}); kept {} referenced and {} younger than {}",
                        a.dry_run ? "would remove" : "removed", report.removed.size(), human_size(bytes),
                        report.referenced, report.young, a.grace));
    }
    return 0;
  }
  if (command == "export") {
    client.export_jsonl(std::cout);
    std::cout.flush();
    return 0;
  }
  if (command == "import") {
    ImportReport report;
    if (a.file.empty() || a.file == "-") {
      report = client.import_jsonl(std::cin);
    } else {
      std::ifstream in(a.file);
      if (!in) throw Error(ErrorKind::NotFound, fmt::format("cannot import {}: cannot open it", a.file));
      report = client.import_jsonl(in);
    }
    if (g.json)
      return print(json_object({{"versions", std::to_string(report.versions)},
                                {"tags", std::to_string(report.tags)},
                                {"unchanged", std::to_string(report.unchanged)}})),
             0;
    if (!g.quiet)
      print(fmt::format("imported {} versions and {} tags ({} already there)", report.versions, report.tags,
                        report.unchanged));
    return 0;
  }
  if (command == "url") {
    auto url = client.presigned_url(a.package, parse_spec(a.spec), parse_duration_seconds(a.expires));
    if (g.json) return print(json_object({{"url", json_quote(url)}})), 0;
    print(url);
    return 0;
  }
  throw Error(ErrorKind::Invalid, "unknown command " + command);
}

}  // namespace sacker::cli
