// Smoke suite for the harness, against serve_demo (tests/serve/demo_main.cpp): open a
// page, filter, fill and submit a form with a typed confirmation, copy to the
// clipboard, the same without JavaScript, a 404. Checks the DOM, never pixels.

const names = async (page) => page.locator('#items li:visible .name').allTextContents();

export default [
  {
    name: 'index renders with its script and a strict CSP',
    async run({ page, baseUrl, check, shot }) {
      const response = await page.goto(`${baseUrl}/`);
      check(response.status() === 200, `status ${response.status()}`);
      const csp = response.headers()['content-security-policy'] || '';
      check(csp.includes("script-src 'self'") && csp.includes("default-src 'none'"), `CSP: ${csp}`);
      check((await page.title()) === 'sacker demo', `title ${await page.title()}`);
      check((await page.locator('h1').textContent()) === 'Packages', 'no h1 Packages');
      check((await names(page)).length === 6, `items: ${await names(page)}`);
      // The script unhides the copy buttons: it ran, from /static/app.js.
      check((await page.locator('button.copy:visible').count()) === 6, 'copy buttons are hidden: script did not run');
      await shot('index');
    },
  },
  {
    name: 'filter narrows the list as you type',
    async run({ page, baseUrl, check, waitFor, shot }) {
      await page.goto(`${baseUrl}/`);
      await page.fill('#filter', 'ber');
      await waitFor(async () => (await page.textContent('#count')) === '3', 'count did not become 3');
      const shown = await names(page);
      check(JSON.stringify(shown) === JSON.stringify(['berry-cache', 'cucumber', 'timber-tools']), `shown: ${shown}`);
      check(new URL(page.url()).search === '', 'filtering navigated');
      await shot('filtered');
      await page.fill('#filter', '');
      await waitFor(async () => (await page.textContent('#count')) === '6', 'count did not return to 6');
    },
  },
  {
    name: 'form needs the typed confirmation, then shows the escaped result',
    async run({ page, baseUrl, check, shot }) {
      await page.goto(`${baseUrl}/`);
      await page.fill('#greet input[name=name]', 'Ada <b>x</b> & co');
      await page.fill('#greet input[name=confirm]', 'nope');
      let [response] = await Promise.all([page.waitForNavigation(), page.click('#greet button[type=submit]')]);
      check(response.status() === 422, `unconfirmed: status ${response.status()}`);
      check((await page.textContent('#error')).includes('Type greet to confirm'), 'no error message');
      await shot('refused');
      await page.goBack();
      await page.fill('#greet input[name=name]', 'Ada <b>x</b> & co');
      await page.fill('#greet input[name=confirm]', 'greet');
      [response] = await Promise.all([page.waitForNavigation(), page.click('#greet button[type=submit]')]);
      check(response.status() === 200, `confirmed: status ${response.status()}`);
      check((await page.textContent('#result')) === 'Hello, Ada <b>x</b> & co', `result: ${await page.textContent('#result')}`);
      check((await page.locator('#result b').count()) === 0, 'the name was rendered as HTML');
      await shot('greeted');
    },
  },
  {
    name: 'copy button puts the command on the clipboard',
    async run({ newContext, baseUrl, check, waitFor, shot }) {
      const context = await newContext();
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(baseUrl).origin });
      const page = await context.newPage();
      await page.goto(`${baseUrl}/`);
      const button = page.locator('#items li').first().locator('button.copy');
      await button.click();
      await waitFor(async () => (await button.textContent()) === 'Copied', `button says ${await button.textContent()}`);
      const text = await page.evaluate(() => navigator.clipboard.readText());
      check(text === 'sacker download frontend-server live', `clipboard: ${text}`);
      await shot('copied', page);
    },
  },
  {
    name: 'reading works without JavaScript',
    async run({ newContext, baseUrl, check, shot }) {
      const context = await newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      await page.goto(`${baseUrl}/`);
      check((await page.locator('button.copy:visible').count()) === 0, 'copy buttons shown without JavaScript');
      await page.fill('#filter', 'ber');
      await Promise.all([page.waitForNavigation(), page.press('#filter', 'Enter')]);
      check(new URL(page.url()).search === '?q=ber', `url ${page.url()}`);
      check((await page.textContent('#count')) === '3', `count ${await page.textContent('#count')}`);
      check((await names(page)).length === 3, `items ${await names(page)}`);
      await shot('filtered-server-side', page);
      await page.fill('#greet input[name=name]', 'Grace');
      await page.fill('#greet input[name=confirm]', 'greet');
      await Promise.all([page.waitForNavigation(), page.click('#greet button[type=submit]')]);
      check((await page.textContent('#result')) === 'Hello, Grace', 'form did not post without JavaScript');
    },
  },
  {
    name: 'an unknown page is a 404',
    async run({ page, baseUrl, check }) {
      const response = await page.goto(`${baseUrl}/no/such/page`);
      check(response.status() === 404, `status ${response.status()}`);
      check((await page.textContent('body')).trim() === '404 Not Found', 'body');
    },
  },
];
