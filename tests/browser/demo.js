#!/usr/bin/env node
// tests/browser/demo.js - the dashboard of `deploy/demo.sh --with-traffic`
// in headless Chromium, driven by tests/integration/test_demo.py (which
// runs the demo and hands over the URL its banner printed).
//
// Checks, in order: the URL's #token= fragment logs in (the page does not
// ask for the token) and leaves the address bar; the allocation table
// shows --allocations rows, each with a non-zero bitrate (In or Out: the
// page needs two polls, 10 s apart, for a rate) and a loss and a jitter
// (RTP seen); the charts are drawn from at least one /api/history sample;
// a screenshot goes to --screenshot. No console error, no page error, no
// failed request (but /favicon.ico).
//
// Prints one JSON line {"ok": bool, "reason": ..., "rows": [...]}; exit 0
// on success, 1 on a failed check, 2 on bad usage, 3 on overall timeout.
//
// Options: --url URL --allocations N [--screenshot PATH] [--timeout S]
//          [--chromium PATH] [--verbose]
'use strict';

const path = require('path');

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

function parseArgs(argv) {
  const o = {
    url: '', allocations: 0, screenshot: '', timeout: 60,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium', verbose: false,
  };
  const names = {
    '--url': 'url', '--allocations': 'allocations', '--screenshot': 'screenshot',
    '--timeout': 'timeout', '--chromium': 'chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--verbose') { o.verbose = true; continue; }
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) { emit({ ok: false, reason: `usage: bad argument ${argv[i]}` }); process.exit(2); }
    o[key] = argv[++i];
  }
  o.timeout = Number(o.timeout);
  o.allocations = Number(o.allocations);
  if (!o.url || !(o.allocations > 0) || !(o.timeout > 0)) {
    emit({ ok: false, reason: 'usage: --url and --allocations are required' });
    process.exit(2);
  }
  return o;
}

// The table's rows as text: [id, user, ..., in, out, loss, jitter, ...].
function tableRows() {
  return Array.from(document.querySelectorAll('#allocs tbody tr[data-id]'))
    .map((tr) => Array.from(tr.cells).map((c) => c.textContent));
}

// Every one of n rows has a bitrate above 0 (In or Out) and RTP quality.
function allMoving(n) {
  const rows = Array.from(document.querySelectorAll('#allocs tbody tr[data-id]'));
  const bps = (s) => {
    const m = /^([\d.]+) (|k|M|G|T)bit\/s$/.exec(s);
    return m ? Number(m[1]) * { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2]] : 0;
  };
  return rows.length === n && rows.every((tr) =>
    bps(tr.cells[6].textContent) + bps(tr.cells[7].textContent) > 0 &&
    / %$/.test(tr.cells[8].textContent) && / ms$/.test(tr.cells[9].textContent));
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
  let page = null;
  try {
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (o.verbose) process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
      // a failed request is judged by its URL below
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    // Chromium asks for /favicon.ico, which is not one of the dashboard's
    // files: the admin server answers 401 (docs/admin.md, Access)
    page.on('response', (r) => {
      if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico')
        problems.push(`${r.status()} for ${r.url()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    await page.goto(o.url, { waitUntil: 'load' });
    await page.waitForSelector('#main:not([hidden])', { timeout: 10000 });
    if (!(await page.isHidden('#login'))) problems.push('the page asked for the token');
    result.address = await page.evaluate(() => window.location.href);
    if (/token/.test(result.address)) problems.push(`token left in the address bar: ${result.address}`);
    step('logged in from the fragment');

    await page.waitForFunction(allMoving, o.allocations, { timeout: 35000 }).catch(() => {
      problems.push(`not ${o.allocations} allocations with a bitrate and RTP quality`);
    });
    result.rows = await page.evaluate(tableRows);
    step('allocations moving');

    await page.waitForFunction(() => ['chart-alloc', 'chart-bps'].every((id) => {
      const c = document.getElementById(id);
      return c.dataset.drawn === '1' && Number(c.dataset.samples) > 0;
    }), null, { timeout: 15000 }).catch(() => problems.push('charts not drawn with a sample'));
    step('charts drawn');
  } catch (e) {
    problems.push(`${e.message} (steps: ${result.steps.join(', ')})`);
  }
  try {
    if (page && o.screenshot) {
      await page.screenshot({ path: path.resolve(o.screenshot), fullPage: true });
      result.screenshot = path.resolve(o.screenshot);
      step('screenshot saved');
    }
  } catch (e) {
    problems.push(`screenshot: ${e.message}`);
  }
  await browser.close().catch(() => {});
  clearTimeout(timer);
  result.ok = problems.length === 0;
  if (!result.ok) result.reason = problems.join('; ');
  emit(result);
  process.exit(result.ok ? 0 : 1);
}

main().catch((e) => { emit({ ok: false, reason: String(e && e.stack || e) }); process.exit(1); });
