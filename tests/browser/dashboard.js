#!/usr/bin/env node
// tests/browser/dashboard.js - the admin dashboard in headless Chromium,
// driven by tests/integration/test_dashboard.py (which starts the daemon
// and the allocations).
//
// Checks, in order: the page asks for the token; a wrong token is refused
// and asked for again; with the right one the allocation table shows
// --expect-user (and --xss-user as plain text, no element made from it);
// the three charts are drawn with at least one history sample; the node
// list (/api/nodes) shows this node alone and the "cluster" view of the
// table says it is this node only (no Redis in this test); sorting
// by a column flips aria-sort; --loss-user's row shows a loss in % and
// heads the worst flows table (if
// the API reports media quality); a screenshot goes to --screenshot; then
// Kick on --kick-user's row (confirmed) removes the row, and Drain /
// Undrain (confirmed) flip the node's state badge. No console error, no
// CSP violation, no failed request other than the refused token.
//
// Prints one JSON line {"ok": bool, "reason": ..., ...}; exit 0 on
// success, 1 on a failed check, 2 on bad usage, 3 on overall timeout.
//
// Options: --url URL --token T --expect-user U [--xss-user U]
//          [--kick-user U] [--loss-user U] [--screenshot PATH] [--timeout S]
//          [--chromium PATH] [--verbose]
'use strict';

const path = require('path');

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

function parseArgs(argv) {
  const o = {
    url: '', token: '', expectUser: '', xssUser: '', kickUser: '', lossUser: '', screenshot: '',
    timeout: 90, chromium: process.env.CHROMIUM || '/usr/bin/chromium', verbose: false,
  };
  const names = {
    '--url': 'url', '--token': 'token', '--expect-user': 'expectUser',
    '--xss-user': 'xssUser', '--kick-user': 'kickUser', '--loss-user': 'lossUser',
    '--screenshot': 'screenshot',
    '--timeout': 'timeout', '--chromium': 'chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--verbose') { o.verbose = true; continue; }
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) { emit({ ok: false, reason: `usage: bad argument ${argv[i]}` }); process.exit(2); }
    o[key] = argv[++i];
  }
  o.timeout = Number(o.timeout);
  if (!o.url || !o.token || !o.expectUser || !(o.timeout > 0)) {
    emit({ ok: false, reason: 'usage: --url, --token and --expect-user are required' });
    process.exit(2);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const result = { ok: false, steps: [] };
  const step = (s) => { result.steps.push(s); if (o.verbose) process.stderr.write(`[step] ${s}\n`); };
  const timer = setTimeout(() => {
    result.reason = `overall timeout after ${o.timeout} s (steps: ${result.steps.join(', ')})`;
    emit(result);
    process.exit(3);
  }, o.timeout * 1000);

  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: o.chromium, headless: true, timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
  });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (o.verbose) process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
      // the refused token's 401 is logged by Chromium as a failed resource
      if (m.type() === 'error' && !/401 \(Unauthorized\)/.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('dialog', (d) => { step(`dialog: ${d.message()}`); d.accept(); });

    await page.goto(o.url, { waitUntil: 'load' });
    await page.waitForSelector('#login:not([hidden]) #token', { timeout: 10000 });
    step('asked for the token');

    await page.fill('#token', 'not-the-right-token-000000');
    await page.click('#connect');
    await page.waitForFunction(() => !document.getElementById('login').hidden &&
      document.getElementById('login-msg').textContent.includes('refused'), null, { timeout: 10000 });
    step('wrong token refused, asked again');

    await page.fill('#token', o.token);
    await page.click('#connect');
    await page.waitForFunction((u) => Array.from(document.querySelectorAll('#allocs tbody td.user'))
      .some((td) => td.textContent === u), o.expectUser, { timeout: 20000 });
    step('live allocation in the table');

    if (o.xssUser) {
      const xss = await page.evaluate((u) => {
        const cell = Array.from(document.querySelectorAll('#allocs tbody td.user')).find((td) => td.textContent === u);
        return { found: !!cell, children: cell ? cell.children.length : -1, imgs: document.querySelectorAll('img').length,
          pwned: !!window.__pwned };
      }, o.xssUser);
      if (!xss.found || xss.children !== 0 || xss.imgs !== 0 || xss.pwned)
        problems.push(`user name not inserted as text: ${JSON.stringify(xss)}`);
      step('hostile user name shown as text');
    }

    await page.waitForFunction(() => ['chart-alloc', 'chart-bps', 'chart-auth'].every((id) => {
      const c = document.getElementById(id);
      return c.dataset.drawn === '1' && Number(c.dataset.samples) > 0;
    }), null, { timeout: 30000 });
    result.chartSamples = await page.evaluate(() => Number(document.getElementById('chart-alloc').dataset.samples));
    // the allocation chart really has ink in it
    result.chartInk = await page.evaluate(() => {
      const c = document.getElementById('chart-alloc');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200 && d[i] < 100) n++; // the blue line
      return n;
    });
    if (!(result.chartInk > 0)) problems.push('allocation chart has no line');
    step('charts drawn');

    result.nodes = await page.$$eval('#nodes tbody tr', (rows) => rows.map((r) => r.cells[0].textContent));
    if (result.nodes.length !== 1) problems.push(`node list: ${JSON.stringify(result.nodes)}`);
    result.nodesNote = await page.textContent('#nodes-note');
    if (!/this node only/.test(result.nodesNote)) problems.push(`node list note: ${result.nodesNote}`);
    // the cluster view without Redis: this node's allocations, said so
    await page.selectOption('#scope', 'cluster');
    await page.waitForFunction(() => document.getElementById('scope-note').textContent === 'No Redis: this node only.',
      null, { timeout: 20000 });
    await page.waitForFunction((u) => Array.from(document.querySelectorAll('#allocs tbody td.user'))
      .some((td) => td.textContent === u), o.expectUser, { timeout: 20000 });
    await page.selectOption('#scope', 'node');
    await page.waitForFunction(() => document.getElementById('scope-note').textContent === '', null, { timeout: 20000 });
    step('node list and cluster toggle');

    await page.click('#allocs th[data-key="user"]');
    const sort1 = await page.getAttribute('#allocs th[data-key="user"]', 'aria-sort');
    await page.click('#allocs th[data-key="user"]');
    const sort2 = await page.getAttribute('#allocs th[data-key="user"]', 'aria-sort');
    if (sort1 !== 'ascending' || sort2 !== 'descending') problems.push(`sorting: ${sort1} then ${sort2}`);
    const order = await page.$$eval('#allocs tbody td.user', (tds) => {
      const users = tds.map((td) => td.textContent);
      const sorted = [...users].sort((a, b) => b.localeCompare(a));
      return { users, sorted: JSON.stringify(users) === JSON.stringify(sorted) };
    });
    result.users = order.users;
    if (!order.sorted) problems.push(`not sorted: ${JSON.stringify(order.users)}`);
    step('table sorts');

    if (o.lossUser) {
      result.loss = await page.evaluate((u) => {
        const row = Array.from(document.querySelectorAll('#allocs tbody tr'))
          .find((tr) => tr.querySelector('td.user') && tr.querySelector('td.user').textContent === u);
        return row ? [row.cells[8].textContent, row.cells[9].textContent] : null;
      }, o.lossUser);
      if (!result.loss || !/^\d+\.\d\d %$/.test(result.loss[0]) || !/ ms$/.test(result.loss[1]))
        problems.push(`no loss/jitter shown for ${o.lossUser}: ${JSON.stringify(result.loss)}`);
      step('loss and jitter shown');
      // the worst flows table: the lossy flow first (summaries are taken
      // every second; the page polls every 10 s)
      await page.waitForFunction((u) => {
        const r = document.querySelector('#worst tbody tr');
        return r && r.cells[1].textContent === u;
      }, o.lossUser, { timeout: 25000 }).catch(() => {});
      result.worst = await page.$$eval('#worst tbody tr', (rows) => rows.map((r) =>
        Array.from(r.cells).map((c) => c.textContent)));
      const w = result.worst[0];
      if (!w || w[1] !== o.lossUser || w[5] !== 'bad' || !/^\d+\.\d\d %$/.test(w[6]))
        problems.push(`worst flows: ${JSON.stringify(result.worst)}`);
      step('worst flows shown');
    }

    if (o.screenshot) {
      await page.screenshot({ path: path.resolve(o.screenshot), fullPage: true });
      result.screenshot = path.resolve(o.screenshot);
      step('screenshot saved');
    }

    if (o.kickUser) {
      const row = page.locator('#allocs tbody tr', { has: page.locator('td.user', { hasText: o.kickUser }) });
      await row.locator('button').click();
      await page.waitForFunction((u) => !Array.from(document.querySelectorAll('#allocs tbody td.user'))
        .some((td) => td.textContent === u), o.kickUser, { timeout: 20000 });
      step('kicked from the dashboard');
    }

    await page.click('#drain');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'draining', null, { timeout: 20000 });
    step('drained');
    await page.click('#undrain');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'ready', null, { timeout: 20000 });
    step('undrained');

    result.ok = problems.length === 0;
    if (!result.ok) result.reason = problems.join('; ');
  } catch (e) {
    result.reason = `${e.message} (steps: ${result.steps.join(', ')}; ${problems.join('; ')})`;
  } finally {
    await browser.close().catch(() => {});
    clearTimeout(timer);
  }
  emit(result);
  process.exit(result.ok ? 0 : 1);
}

main().catch((e) => { emit({ ok: false, reason: String(e && e.stack || e) }); process.exit(1); });
