// The pages' stylesheet and script, served from /static/ (the CSP allows no inline
// script or style, and nothing from another origin).
#include "serve/pages_internal.h"

namespace sacker::serve::pages {
namespace {

constexpr const char* kStyle =
    "body{font-family:system-ui,sans-serif;margin:0;color:#222}header{background:#234;color:#fff;padding:.6em 1.2em;display:flex;align-items:center;gap:1em}"
    "header a{color:#fff;margin-right:1em}.brand{font-weight:bold}.user{margin-left:auto}main{padding:1em 1.5em}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;"
    "vertical-align:top}code{font-family:monospace}.chip{display:inline-block;background:#e4ecf7;border-radius:1em;"
    "padding:0 .6em;margin:0 .2em .2em 0;text-decoration:none;color:#123}.meta{font-size:.9em;margin-right:.5em}"
    ".error{color:#a00}.ok{color:#070}[hidden]{display:none!important}button.copy{font-size:.8em}\n";

constexpr const char* kScript = R"JS('use strict';
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('filter-form');
  const filter = document.getElementById('filter');
  const rows = Array.from(document.querySelectorAll('#packages tbody tr'));
  if (form && filter) {
    form.addEventListener('submit', (e) => e.preventDefault());
    filter.addEventListener('input', () => {
      const q = filter.value.trim().toLowerCase();
      let shown = 0;
      for (const row of rows) {
        const hit = row.dataset.name.includes(q);
        row.hidden = !hit;
        if (hit) shown++;
      }
      document.getElementById('count').textContent = String(shown);
    });
  }
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.hidden = false;
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = 'copied';
      } catch (e) {
        button.textContent = 'copy failed';
      }
    });
  }
});
)JS";

}  // namespace

void add_asset_routes(Router& router) {
  router.get("/static/pages.js", [](const Request&, Response& res) {
    res.set_body(kScript, "text/javascript; charset=utf-8");
    res.headers.set("X-Content-Type-Options", "nosniff");
  });
  router.get("/static/pages.css", [](const Request&, Response& res) {
    res.set_body(kStyle, "text/css; charset=utf-8");
    res.headers.set("X-Content-Type-Options", "nosniff");
  });
}

}  // namespace sacker::serve::pages
