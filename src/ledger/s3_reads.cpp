#include "ledger/s3_reads.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <set>

#include "kit/ledger_kit.h"
#include "sacker/error.h"
#include "sacker/names.h"

namespace sacker::s3_objects {

LatestRead read_latest(Objects& objects, const std::string& package) {
  // Round 1: the hint; the tag names (read ahead: a failure here only costs the read-ahead).
  std::optional<std::uint64_t> hint;
  bool hint_denied = false;
  std::optional<std::vector<std::string>> names;
  run_parallel({[&] {
                  try {
                    if (auto h = objects.read_tag(package, std::string(kLatestTag))) hint = h->object.value.version;
                  } catch (const Error& e) {
                    if (e.kind() != ErrorKind::Denied) throw;
                    hint_denied = true;
                  }
                },
                [&] {
                  try {
                    names = user_tags(objects.tag_names(package));
                  } catch (const Error&) {
                  }
                }});
  // Round 2: anything at or above the hint; the hinted record; the tag objects.
  LatestRead out;
  std::exception_ptr list_denied;
  std::optional<VersionObject> hinted;
  const std::size_t n = names ? names->size() : 0;
  std::vector<std::optional<TagState>> tags(n);
  std::vector<char> tag_failed(n);
  std::vector<std::function<void()>> tasks;
  tasks.push_back([&] {
    try {
      if (hint && *hint >= kMinStampVersion) out.version = objects.highest_from(package, *hint);
      if (!out.version) {  // no hint, or it names a version that is gone
        auto all = objects.list_versions(package, "");
        if (!all.empty()) out.version = all.back();
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::Denied) throw;
      list_denied = std::current_exception();
    }
  });
  if (hint)
    tasks.push_back([&] {
      try {
        hinted = objects.read_version(package, *hint);
      } catch (const Error&) {
      }
    });
  for (std::size_t i = 0; i < n; ++i)
    tasks.push_back([&, i] {
      try {
        tags[i] = objects.read_tag(package, (*names)[i]);
      } catch (const Error&) {
        tag_failed[i] = 1;
      }
    });
  run_parallel(std::move(tasks));
  if (list_denied) {
    if (!hint || hint_denied) std::rethrow_exception(list_denied);
    out.version = hint;  // may read but not list: the hint is all there is
  }
  if (hinted && out.version == hint) out.record = std::move(hinted->record);
  if (names && std::find(tag_failed.begin(), tag_failed.end(), 1) == tag_failed.end()) {
    out.tags.emplace();
    for (std::size_t i = 0; i < n; ++i)
      if (tags[i]) (*out.tags)[(*names)[i]] = tags[i]->object.value;
  }
  return out;
}

std::vector<Event> read_history(Objects& objects, const std::string& package, const HistoryQuery& query) {
  // Round 1: the event keys; the current tag objects and the events they carry.
  std::vector<std::uint64_t> seqs;
  std::map<std::string, TagState> tags;
  run_parallel({[&] { seqs = objects.event_seqs(package); },
                [&] {
                  if (!query.tag) {
                    tags = objects.read_tags(package, user_tags(objects.tag_names(package)));
                  } else if (auto t = objects.read_tag(package, *query.tag)) {
                    tags.emplace(*query.tag, std::move(*t));
                  }
                }});
  const std::set<std::uint64_t> stored(seqs.begin(), seqs.end());
  std::map<std::uint64_t, Event> found;
  for (auto& [name, t] : tags)
    if (t.object.event && !stored.count(t.object.event->seq)) found.emplace(t.object.event->seq, *t.object.event);

  // Round 2: adds whose copy in events/ is missing (the writer died before it, or
  // its policy did not allow it): versions added since the first event.
  std::map<std::uint64_t, std::uint64_t> orphans;  // add seq -> version
  std::optional<std::uint64_t> first;
  if (!seqs.empty()) first = seqs.front();
  if (!found.empty()) first = std::min(first.value_or(found.begin()->first), found.begin()->first);
  if (!query.tag && first) {
    const std::uint64_t from = *first / kSeqPerMs;
    auto versions = from >= kMinStampVersion ? objects.list_versions(package, objects.version_key(package, from - 1))
                                             : objects.list_versions(package, "");
    for (auto v : versions)
      if (add_seq(v) >= *first && !stored.count(add_seq(v))) orphans.emplace(add_seq(v), v);
  }

  // Round 3 (and on, for filtered or limited queries): newest first, read as many
  // events as the query needs.
  std::vector<std::uint64_t> wanted;
  for (auto s : stored) wanted.push_back(s);
  for (const auto& [s, e] : found) wanted.push_back(s);
  for (const auto& [s, v] : orphans) wanted.push_back(s);
  std::sort(wanted.begin(), wanted.end(), std::greater<>());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (query.before != 0)
    wanted.erase(std::remove_if(wanted.begin(), wanted.end(), [&](auto s) { return s >= query.before; }), wanted.end());
  const std::size_t batch = query.limit == 0 ? wanted.size() : std::max<std::size_t>(query.limit, 16);
  std::size_t matched = 0;
  for (std::size_t pos = 0; pos < wanted.size() && (query.limit == 0 || matched < query.limit); pos += batch) {
    const std::size_t end = std::min(wanted.size(), pos + batch);
    std::vector<std::optional<Event>> got(end - pos);
    std::vector<std::function<void()>> tasks;
    for (std::size_t i = pos; i < end; ++i) {
      const std::uint64_t s = wanted[i];
      if (stored.count(s))
        tasks.push_back([&, i, s] { got[i - pos] = objects.read_event(package, s); });
      else if (auto o = orphans.find(s); o != orphans.end())
        tasks.push_back([&, i, v = o->second] {
          if (auto obj = objects.read_version(package, v)) got[i - pos] = obj->event;  // none: not ours
        });
    }
    run_parallel(std::move(tasks));
    for (std::size_t i = pos; i < end; ++i) {
      if (got[i - pos]) found.emplace(wanted[i], std::move(*got[i - pos]));
      auto it = found.find(wanted[i]);
      if (it != found.end() && (!query.tag || it->second.tag == *query.tag)) ++matched;
    }
  }
  std::vector<Event> all;
  for (auto& [s, e] : found) all.push_back(ledger_kit::checked_event(objects.display(), std::move(e)));
  return ledger_kit::select_history(std::move(all), query);
}

}  // namespace sacker::s3_objects
