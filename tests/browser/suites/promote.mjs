// The pages of a real `sacker serve --allow-writes` (issue 12), set up by
// tests/browser/promote_run.sh: "app" versions 1..3 with live on 2, "lib" version 1 (devel),
// a promote token (release-bot) and a read token (viewer). The scenarios run in order
// on one server and build on each other: promote moves live 2 -> 3, the rollback
// 3 -> 2, and the conflict scenario moves it to 3 with the CLI behind the form's back.
// Checks the DOM and the ledger (through the JSON API), never pixels.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const secrets = () => JSON.parse(fs.readFileSync(process.env.SACKER_BROWSER_TOKENS, 'utf8'));

async function login(page, baseUrl, token) {
  await page.goto(`${baseUrl}/login`);
  await page.fill('#token', token);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('#login')]);
  return response;
}

async function liveOf(page, baseUrl, pkg = 'app') {
  const r = await page.request.get(`${baseUrl}/api/v1/packages/${pkg}/tags`);
  return (await r.json()).tags.live;
}

async function submit(page) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click('#submit')]);
  return response;
}

const text = async (page, selector) => ((await page.textContent(selector)) || '').replace(/\s+/g, ' ').trim();

export default [
  {
    name: 'packages page shows the packages, their tags, and filters',
    async run({ page, baseUrl, check, waitFor, shot }) {
      const response = await page.goto(`${baseUrl}/`);
      check(response.status() === 200, `status ${response.status()}`);
      const csp = response.headers()['content-security-policy'] || '';
      check(csp.includes("default-src 'none'"), `CSP: ${csp}`);
      const rows = page.locator('#packages tbody tr');
      check((await rows.count()) === 2, `rows: ${await rows.count()}`);
      const app = page.locator('#packages tr[data-name=app]');
      check((await text(page, '#packages tr[data-name=app] .latest')) === '3', 'latest of app is not 3');
      check((await app.locator('.chip', { hasText: 'live' }).count()) === 1, 'no live chip on app');
      check((await page.locator('a[href="/login"]').count()) === 1, 'no log-in link on a server with writes');
      await shot('packages');
      await page.fill('#filter', 'li');
      await waitFor(async () => (await page.textContent('#count')) === '1', 'the filter did not leave one package');
      check(await page.locator('#packages tr[data-name=lib]').isVisible(), 'lib hidden by the filter');
      check(!(await app.isVisible()), 'app still shown by the filter');
    },
  },
  {
    name: 'lookup by a sha256 prefix and the status page, with JavaScript off',
    async run({ newContext, baseUrl, check, shot }) {
      const context = await newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const record = await (await page.request.get(`${baseUrl}/api/v1/packages/app/versions/2`)).json();
      await page.goto(`${baseUrl}/lookup`);
      await page.fill('input[name=sha256]', record.sha256.slice(0, 12));
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
      const rows = page.locator('#result tr');
      check((await rows.count()) === 1, `lookup rows: ${await rows.count()}`);
      check((await rows.first().textContent()).includes(record.sha256), 'the full sha256 is not shown');
      await shot('lookup', page);
      // The package filter works server-side without the script.
      await page.goto(`${baseUrl}/?q=li`);
      check((await page.textContent('#count')) === '1', `count ${await page.textContent('#count')}`);
      await page.goto(`${baseUrl}/status`);
      check((await page.textContent('#ledger')).includes('reachable'), `ledger: ${await page.textContent('#ledger')}`);
      check((await page.textContent('#store')).includes('reachable'), `store: ${await page.textContent('#store')}`);
      check((await page.textContent('#mode')) === 'writes allowed', `mode: ${await page.textContent('#mode')}`);
      await shot('status', page);
    },
  },
  {
    name: 'a wrong token is refused and a promote token signs in',
    async run({ page, baseUrl, check }) {
      let response = await login(page, baseUrl, 'sacker_' + '0'.repeat(64));
      check(response.status() === 401, `wrong token: status ${response.status()}`);
      check((await text(page, '#message')).includes('not in the server'), 'no message for a wrong token');
      response = await login(page, baseUrl, secrets().promote);
      check(new URL(page.url()).pathname === '/', `after login at ${page.url()}`);
      check((await text(page, '#principal')) === 'release-bot', 'not signed in as release-bot');
      // A login returns to our own paths only: no open redirect.
      for (const [next, want] of [['/packages/app', '/packages/app'], ['//evil.example/x', '/'],
                                  ['/\t/evil.example', '/'], ['/\\evil.example', '/'], ['https://evil.example', '/']]) {
        const r = await page.request.post(`${baseUrl}/login`, { form: { token: secrets().promote, next }, maxRedirects: 0 });
        check(r.status() === 303 && r.headers()['location'] === want,
              `next ${JSON.stringify(next)}: ${r.status()} to ${r.headers()['location']}`);
      }
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'sacker_session');
      check(session && session.httpOnly && session.sameSite === 'Strict', `cookie ${JSON.stringify(session)}`);
    },
  },
  {
    name: 'promote a version to live with the typed confirmation, then see the history row',
    async run({ page, baseUrl, check, shot }) {
      await login(page, baseUrl, secrets().promote);
      await page.goto(`${baseUrl}/packages/app/versions/3`);
      await shot('version');
      await Promise.all([page.waitForNavigation(), page.click('#promote-start button[type=submit]')]);
      check(new URL(page.url()).pathname === '/packages/app/promote', `at ${page.url()}`);
      check((await text(page, '#change')) === 'live: 2 -> 3', `change: ${await text(page, '#change')}`);
      check((await page.locator('#sides #from a').textContent()) === '2', 'the "now" side is not version 2');
      await page.fill('#comment', 'canary ok');
      await shot('promote');
      await page.fill('#confirm', 'ap');  // not the package name
      let response = await submit(page);
      check(response.status() === 400, `unconfirmed: status ${response.status()}`);
      check((await text(page, '#message')).includes("type the package name 'app'"), 'no message for the confirmation');
      check((await liveOf(page, baseUrl)) === 2, 'an unconfirmed promotion moved live');
      await page.goBack();
      await page.fill('#confirm', 'app');
      await page.fill('#comment', 'canary ok');
      response = await submit(page);
      check(response.status() === 200, `confirmed: status ${response.status()}`);
      check(new URL(page.url()).pathname === '/packages/app/history', `landed at ${page.url()}`);
      const row = page.locator('table.history tbody tr').first();
      check((await row.getAttribute('data-action')) === 'tag', `first row: ${await row.getAttribute('data-action')}`);
      check((await row.locator('.actor').textContent()) === 'release-bot', 'the actor is not the token name');
      check((await row.locator('.comment').textContent()) === 'canary ok', 'the comment was not recorded');
      check((await row.textContent()).includes('live: 2 -> 3'), `row: ${await row.textContent()}`);
      check((await liveOf(page, baseUrl)) === 3, 'live is not 3');
      await shot('history');
    },
  },
  {
    name: 'roll back live from the package page',
    async run({ page, baseUrl, check, shot }) {
      await login(page, baseUrl, secrets().promote);
      await page.goto(`${baseUrl}/packages/app`);
      await shot('package');
      await Promise.all([page.waitForNavigation(), page.click('#tags tr[data-tag=live] a:text("roll back")')]);
      check((await text(page, '#change')) === 'live: 3 -> 2', `change: ${await text(page, '#change')}`);
      await page.fill('#confirm', 'app');
      const response = await submit(page);
      check(response.status() === 200, `status ${response.status()}`);
      const row = page.locator('table.history tbody tr').first();
      check((await row.getAttribute('data-action')) === 'rollback', `first row: ${await row.getAttribute('data-action')}`);
      check((await liveOf(page, baseUrl)) === 2, 'live is not back on 2');
    },
  },
  {
    name: 'a tag moved by the CLI after the form opened gives the 409 page, not an overwrite',
    async run({ page, baseUrl, check, shot }) {
      await login(page, baseUrl, secrets().promote);
      await page.goto(`${baseUrl}/packages/app/promote?tag=live&version=1`);
      check((await text(page, '#change')) === 'live: 2 -> 1', `change: ${await text(page, '#change')}`);
      // Someone else promotes meanwhile, with the CLI on the same ledger.
      execFileSync(process.env.SACKER_BIN, ['-q', 'tag', 'app', '3', 'live', '--comment', 'hotfix'], { env: process.env });
      await page.fill('#confirm', 'app');
      const response = await submit(page);
      check(response.status() === 409, `status ${response.status()}`);
      check((await text(page, '#moved')).includes('Moved by someone else'), 'no "moved by someone else" message');
      check((await text(page, '#change')) === 'live: 3 -> 1', `the form anew: ${await text(page, '#change')}`);
      check((await liveOf(page, baseUrl)) === 3, 'the stale form overwrote live');
      await shot('moved');
    },
  },
  {
    name: 'untag a tag that is not protected: no typed confirmation',
    async run({ page, baseUrl, check }) {
      await login(page, baseUrl, secrets().promote);
      await page.goto(`${baseUrl}/packages/lib`);
      await Promise.all([page.waitForNavigation(), page.click('#tags tr[data-tag=devel] a:text("untag")')]);
      check((await text(page, '#change')) === 'devel: 1 -> (removed)', `change: ${await text(page, '#change')}`);
      check((await page.locator('#confirm').count()) === 0, 'a typed confirmation for a tag not in --protect');
      const response = await submit(page);
      check(response.status() === 200, `status ${response.status()}`);
      const row = page.locator('table.history tbody tr').first();
      check((await row.getAttribute('data-action')) === 'untag', `first row: ${await row.getAttribute('data-action')}`);
      check((await liveOf(page, baseUrl, 'lib')) === undefined, 'lib still has live?');
      const tags = await (await page.request.get(`${baseUrl}/api/v1/packages/lib/tags`)).json();
      check(!('devel' in tags.tags), `lib tags: ${JSON.stringify(tags.tags)}`);
    },
  },
  {
    name: 'a read token signs in but may not promote; forged posts are refused',
    async run({ page, context, baseUrl, check }) {
      await login(page, baseUrl, secrets().read);
      const response = await page.goto(`${baseUrl}/packages/app/promote?tag=live&version=1`);
      check(response.status() === 403, `read token: status ${response.status()}`);
      check((await text(page, '#message')).includes('scope read'), 'no message about the scope');
      await login(page, baseUrl, secrets().promote);
      const form = { tag: 'live', version: '1', expect: '3', confirm: 'app', csrf: 'forged' };
      let r = await context.request.post(`${baseUrl}/packages/app/promote`, { form });
      check(r.status() === 403, `wrong CSRF token: status ${r.status()}`);
      r = await context.request.post(`${baseUrl}/packages/app/promote`, {
        form, headers: { 'Sec-Fetch-Site': 'cross-site' } });
      check(r.status() === 403, `cross-site: status ${r.status()}`);
      check((await liveOf(page, baseUrl)) === 3, 'a refused post moved live');
    },
  },
];
