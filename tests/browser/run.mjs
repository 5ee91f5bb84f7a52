#!/usr/bin/env node
// Browser tests: runs a suite of scenarios in Debian's Chromium (/usr/bin/chromium),
// driven by playwright-core from ${SACKER_TOOLS_DIR:-/opt/sacker-tools} (both installed by
// `bash scripts/install-deps.sh --browser-only`). Playwright never downloads a browser.
//
//   node tests/browser/run.mjs --suite NAME [--out DIR] [--only REGEX]
//                              (--base-url http://127.0.0.1:PORT | -- SERVER_CMD [ARGS...])
//
// With `-- SERVER_CMD ...` the server is started here; it must print
// "listening on http://127.0.0.1:PORT" on stdout, and is stopped by its PID (SIGTERM,
// SIGKILL after 5 s); it must then exit 0. Only loopback base URLs are accepted.
//
// A suite is tests/browser/suites/NAME.mjs exporting an array of
//   { name, run: async (t) => {...}, allowConsoleErrors?: bool }
// where t is { page, context, browser, baseUrl, shot(label), check(cond, message),
// waitFor(fn, message), newContext(options) }. Each scenario gets a fresh context and
// page. A scenario fails if it throws, if the page logs a console error or an
// uncaught exception (CSP violations are console errors), or if it requests anything
// outside the base URL's origin (no CDN). A screenshot is saved on failure too.
//
// Prints one line per scenario, "PASS name (timing)" or "FAIL name: reason", then a
// summary. Exit 0: all passed; 1: a scenario or the server failed; 2: the harness
// could not run (no Chromium, no playwright-core, no server, bad arguments).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.SACKER_CHROMIUM || '/usr/bin/chromium';
const TOOLS_DIR = process.env.SACKER_TOOLS_DIR || '/opt/sacker-tools';
// From the machine notes: without the background-networking flags Chromium keeps trying
// hosts this closed network refuses. playwright-core adds --headless, --no-sandbox (we
// do not enable its sandbox) and a fresh temporary --user-data-dir per launch.
const CHROMIUM_FLAGS = [
  '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-sandbox',
];

function setupFailure(message) {
  console.log(`FAIL setup: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { suite: null, out: null, only: null, baseUrl: null, server: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) setupFailure(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--') { opts.server = argv.slice(i + 1); break; }
    else if (a === '--suite') opts.suite = value();
    else if (a === '--out') opts.out = value();
    else if (a === '--only') opts.only = new RegExp(value());
    else if (a === '--base-url') opts.baseUrl = value();
    else setupFailure(`unknown argument ${a}`);
  }
  if (!opts.suite) setupFailure('--suite NAME is required');
  if (!opts.baseUrl === !(opts.server && opts.server.length)) setupFailure('give either --base-url or -- SERVER_CMD');
  opts.out = path.resolve(opts.out || path.join(os.tmpdir(), `sacker-browser-${opts.suite}`));
  return opts;
}

function checkLoopback(url) {
  let u;
  try { u = new URL(url); } catch { setupFailure(`bad base URL ${url}`); }
  if (u.protocol !== 'http:' || !['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname))
    setupFailure(`base URL must be http on loopback, not ${url}`);
  return u.origin;
}

function loadPlaywright() {
  const require = createRequire(path.join(TOOLS_DIR, 'package.json'));
  try {
    return require('playwright-core');
  } catch (e) {
    setupFailure(`playwright-core not found in ${TOOLS_DIR}/node_modules (bash scripts/install-deps.sh --browser-only): ${e.message.split('\n')[0]}`);
  }
}

// Starts the server and resolves with its base URL once it prints it.
function startServer(cmd) {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      setupFailure(`${cmd[0]} printed no "listening on http://..." within 15 s`);
    }, 15000);
    child.on('error', (e) => { if (!done) { done = true; clearTimeout(timer); setupFailure(`cannot start ${cmd[0]}: ${e.message}`); } });
    child.on('exit', (code, signal) => {
      if (!done) { done = true; clearTimeout(timer); setupFailure(`${cmd[0]} exited (${signal || code}) before listening`); }
    });
    child.stdout.on('data', (chunk) => {
      buffered += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(buffered);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        child.stdout.resume();  // keep draining
        resolve({ child, baseUrl: m[1] });
      }
    });
  });
}

// SIGTERM by PID, SIGKILL after 5 s. Resolves with a problem, or null if it exited 0.
function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode === 0 ? null : `server had already exited (${child.signalCode || child.exitCode})`);
      return;
    }
    const t0 = Date.now();
    const kill = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 5000);
    child.once('exit', (code, signal) => {
      clearTimeout(kill);
      const ms = Date.now() - t0;
      resolve(code === 0 ? null : `server exited with ${signal || code} after SIGTERM (${ms} ms)`);
    });
    process.kill(child.pid, 'SIGTERM');
  });
}

function fileSafe(s) { return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, ''); }

async function waitFor(fn, message, timeout = 5000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() - t0 > timeout) throw new Error(`${message} (waited ${timeout} ms${last instanceof Error ? `: ${last.message}` : ''})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runScenario(browser, scenario, baseUrl, origin, outDir) {
  const problems = [];
  const contexts = [];
  const watch = async (context) => {
    contexts.push(context);
    // Nothing leaves the base URL's origin: no CDN, no stray fetch.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      problems.push(`request outside ${origin}: ${url}`);
      return route.abort('blockedbyclient');
    });
    context.on('page', (p) => watchPage(p));
    return context;
  };
  // Chromium logs a page answered with 4xx/5xx (our 404, 409, 422 pages) as a console
  // error; only the same for a subresource (a missing script, say) is a problem.
  const navigations = new Set();
  const watchPage = (p) => {
    p.on('response', (r) => { if (r.request().isNavigationRequest()) navigations.add(r.url()); });
    p.on('console', (m) => {
      if (m.type() !== 'error' || scenario.allowConsoleErrors) return;
      if (/^Failed to load resource: the server responded with a status of/.test(m.text()) && navigations.has(m.location().url)) return;
      problems.push(`console error: ${m.text()}${m.location().url ? ` (${m.location().url})` : ''}`);
    });
    p.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  };
  const newContext = async (options = {}) => watch(await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options }));
  const tSetup = Date.now();
  const context = await newContext();
  const page = await context.newPage();
  let shots = 0;
  const t = {
    browser, context, page, baseUrl, newContext, waitFor,
    check(cond, message) { if (!cond) throw new Error(message); },
    async shot(label, p = page) {
      const file = path.join(outDir, `${fileSafe(scenario.name)}-${String(++shots).padStart(2, '0')}-${fileSafe(label)}.png`);
      await p.screenshot({ path: file, fullPage: true });
      return file;
    },
  };
  const setupMs = Date.now() - tSetup;
  const t0 = Date.now();
  let error = null;
  try {
    await scenario.run(t);
  } catch (e) {
    error = e;
  }
  const ms = Date.now() - t0;
  if (error || problems.length) {
    try { await t.shot('failure'); } catch { /* the page may be gone */ }
  }
  for (const c of contexts) await c.close().catch(() => {});
  if (error) return { ok: false, ms, setupMs, reason: (error.message || String(error)).split('\n')[0] };
  if (problems.length)
    return { ok: false, ms, setupMs, reason: problems[0] + (problems.length > 1 ? ` (+${problems.length - 1} more)` : '') };
  return { ok: true, ms, setupMs };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const suiteFile = path.join(here, 'suites', `${opts.suite}.mjs`);
  if (!fs.existsSync(suiteFile)) setupFailure(`no suite ${suiteFile}`);
  try { fs.accessSync(CHROMIUM, fs.constants.X_OK); } catch {
    setupFailure(`Chromium not found at ${CHROMIUM} (bash scripts/install-deps.sh --browser-only)`);
  }
  const tLoad = Date.now();
  const { chromium } = loadPlaywright();
  const loadMs = Date.now() - tLoad;
  const scenarios = (await import(suiteFile)).default.filter((s) => !opts.only || opts.only.test(s.name));
  if (!scenarios.length) setupFailure(`suite ${opts.suite} has no scenario matching`);
  fs.rmSync(opts.out, { recursive: true, force: true });
  fs.mkdirSync(opts.out, { recursive: true });

  let server = null;
  let baseUrl = opts.baseUrl;
  if (opts.server) {
    server = await startServer(opts.server);
    baseUrl = server.baseUrl;
  }
  const origin = checkLoopback(baseUrl);

  let browser;
  const t0 = Date.now();
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 60000 });
  } catch (e) {
    if (server) await stopServer(server.child);
    setupFailure(`Chromium did not start: ${e.message.split('\n')[0]}`);
  }
  console.log(`chromium ${browser.version()} launched in ${Date.now() - t0} ms; base URL ${baseUrl}; screenshots in ${opts.out}`);

  let failed = 0;
  for (const s of scenarios) {
    const r = await runScenario(browser, s, baseUrl, origin, opts.out);
    if (!r.ok) failed++;
    const took = `${r.ms} ms, new context ${r.setupMs} ms`;
    console.log(r.ok ? `PASS ${s.name} (${took})` : `FAIL ${s.name}: ${r.reason} (${took})`);
  }
  const tClose = Date.now();
  await browser.close();
  const closeMs = Date.now() - tClose;
  let serverProblem = null;
  const tStop = Date.now();
  if (server) {
    serverProblem = await stopServer(server.child);
    if (serverProblem) console.log(`FAIL server: ${serverProblem}`);
  }
  console.log(`${scenarios.length - failed} of ${scenarios.length} passed; ${Date.now() - t0} ms from Chromium start to the end ` +
              `(loading playwright-core ${loadMs} ms before that; closing Chromium ${closeMs} ms, ` +
              `stopping the server ${Date.now() - tStop} ms)`);
  process.exit(failed || serverProblem ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL harness: ${e.stack || e}`); process.exit(2); });
