#!/usr/bin/env node
// tests/browser/webrtc-relay.js - headless Chromium WebRTC through a TURN
// server, driven by tests/integration/test_webrtc.py (run it inside
// tests/browser/in-netns.sh so that Chromium only sees `lo`).
//
// Modes:
//   transfer  two RTCPeerConnections in one page, iceTransportPolicy 'relay',
//             signalled in-page; a data channel carries --bytes (default
//             1 MiB, in --chunk sized pieces with a seeded pseudo-random
//             pattern); the receiver checks length, SHA-256 and every byte;
//             getStats() must show a selected pair that is relay/relay on
//             both sides, with the relay protocol we asked for.
//   gather    one RTCPeerConnection gathers with --turn-url; reports the
//             candidates and icecandidateerror events once gathering is
//             complete (or --gather-timeout passed). Success means the
//             relay-candidate count matches --expect-relay (any|none|N+).
//
// Prints one JSON line {"ok": bool, "reason": ..., ...} on stdout and exits
// 0 on success, 1 on a failed check, 2 on bad usage, 3 on overall timeout
// (--timeout seconds, default 60).
//
// Options:
//   --turn-url URL           e.g. turn:127.0.0.1:3478?transport=udp (required)
//   --username U --credential P
//   --mode transfer|gather   (default transfer)
//   --bytes N --chunk N      (default 1048576 and 16384)
//   --expect-relay any|none|N  (gather mode; default any; N means at least N)
//   --expect-error CODE      (gather mode) an icecandidateerror with this
//                            STUN error code must have been seen, e.g. 401:
//                            proves the server answered and refused
//   --gather-timeout S       (default 20)
//   --timeout S              (default 60)
//   --chromium PATH          (default /usr/bin/chromium, or $CHROMIUM)
//   --spki-list B64[,B64]    hook for turns: with a self-signed certificate:
//                            passed as --ignore-certificate-errors-spki-list
//   --verbose                Chromium's own log on stderr
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function parseArgs(argv) {
  const o = {
    mode: 'transfer', bytes: 1 << 20, chunk: 16384, expectRelay: 'any',
    gatherTimeout: 20, timeout: 60, username: '', credential: '',
    chromium: process.env.CHROMIUM || '/usr/bin/chromium', spki: '',
    expectError: '',
    verbose: false, turnUrl: '',
  };
  const names = {
    '--turn-url': 'turnUrl', '--username': 'username',
    '--credential': 'credential', '--mode': 'mode', '--bytes': 'bytes',
    '--chunk': 'chunk', '--expect-relay': 'expectRelay',
    '--gather-timeout': 'gatherTimeout', '--timeout': 'timeout',
    '--chromium': 'chromium', '--spki-list': 'spki',
    '--expect-error': 'expectError',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--verbose') { o.verbose = true; continue; }
    const key = names[a];
    if (!key || i + 1 >= argv.length) usage(`bad argument ${a}`);
    o[key] = argv[++i];
  }
  for (const k of ['bytes', 'chunk', 'gatherTimeout', 'timeout']) {
    o[k] = Number(o[k]);
    if (!(o[k] > 0)) usage(`--${k} must be a positive number`);
  }
  if (!o.turnUrl) usage('--turn-url is required');
  if (!['transfer', 'gather'].includes(o.mode)) usage('--mode transfer|gather');
  if (!/^(any|none|\d+)$/.test(o.expectRelay)) usage('--expect-relay any|none|N');
  if (!/^(\d{3})?$/.test(o.expectError)) usage('--expect-error CODE');
  return o;
}

function usage(msg) {
  emit({ ok: false, reason: `usage: ${msg}` });
  process.exit(2);
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// ---- code that runs in the page -------------------------------------------

// Pattern byte j of the whole stream: xorshift32 seeded per chunk, so a
// reordered, duplicated or shifted chunk is caught as well as a bit flip.
async function pageTransfer({ iceServers, bytes, chunk }) {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const timings = {};
  const cfg = { iceServers, iceTransportPolicy: 'relay' };
  const a = new RTCPeerConnection(cfg);
  const b = new RTCPeerConnection(cfg);
  const cands = { a: [], b: [] };
  const errors = [];
  const wire = (from, to, tag) => {
    from.onicecandidate = (e) => {
      if (!e.candidate) return;
      cands[tag].push(e.candidate.type);
      to.addIceCandidate(e.candidate).catch((err) => errors.push(`${tag} addIceCandidate: ${err}`));
    };
    from.onicecandidateerror = (e) =>
      errors.push(`${tag} icecandidateerror ${e.errorCode} ${e.errorText} ${e.url}`);
  };
  wire(a, b, 'a');
  wire(b, a, 'b');

  function pattern(total, size) {
    const buf = new Uint8Array(total);
    for (let off = 0, c = 0; off < total; off += size, c++) {
      let x = (0x9e3779b9 ^ Math.imul(c + 1, 0x85ebca6b)) >>> 0 || 1;
      const end = Math.min(off + size, total);
      for (let j = off; j < end; j++) {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        buf[j] = x & 0xff;
      }
    }
    return buf;
  }
  const hex = (ab) => Array.from(new Uint8Array(ab), (v) => v.toString(16).padStart(2, '0')).join('');
  const sent = pattern(bytes, chunk);
  const sentHash = hex(await crypto.subtle.digest('SHA-256', sent));

  const dc = a.createDataChannel('bulk', { ordered: true });
  dc.binaryType = 'arraybuffer';
  const received = new Promise((resolve, reject) => {
    b.ondatachannel = (ev) => {
      const ch = ev.channel;
      ch.binaryType = 'arraybuffer';
      const parts = [];
      let got = 0;
      ch.onmessage = (m) => {
        if (typeof m.data === 'string') {
          if (m.data === 'end') resolve({ parts, got });
          return;
        }
        parts.push(new Uint8Array(m.data));
        got += m.data.byteLength;
      };
      ch.onerror = (e) => reject(new Error(`receiver channel error: ${e.error && e.error.message}`));
    };
  });
  const opened = new Promise((resolve, reject) => {
    dc.onopen = resolve;
    dc.onerror = (e) => reject(new Error(`sender channel error: ${e.error && e.error.message}`));
  });
  // Fail fast instead of waiting for the overall timeout: ICE failed, or a
  // side finished gathering without a single relay candidate (refused
  // credentials, no answer from the server).
  const failed = new Promise((_, reject) => {
    for (const [tag, pc] of [['a', a], ['b', b]]) {
      pc.oniceconnectionstatechange = () => {
        if (pc.iceConnectionState === 'failed')
          reject(new Error(`ICE failed on ${tag}; candidates a=${cands.a} b=${cands.b}; ${errors.join('; ')}`));
      };
      pc.onicegatheringstatechange = () => {
        if (pc.iceGatheringState === 'complete' && !cands[tag].includes('relay'))
          reject(new Error(`no relay candidate gathered on ${tag}; ${errors.join('; ') || 'no icecandidateerror'}`));
      };
    }
  });
  failed.catch(() => {});

  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);

  await Promise.race([opened, failed]);
  timings.open_ms = ms();

  dc.bufferedAmountLowThreshold = 256 * 1024;
  for (let off = 0; off < bytes; off += chunk) {
    if (dc.bufferedAmount > 1024 * 1024) {
      await new Promise((r) => { dc.onbufferedamountlow = r; });
    }
    dc.send(sent.subarray(off, Math.min(off + chunk, bytes)));
  }
  dc.send('end');
  const { parts, got } = await Promise.race([received, failed]);
  timings.transfer_ms = ms() - timings.open_ms;

  const recv = new Uint8Array(got);
  let pos = 0;
  for (const p of parts) { recv.set(p, pos); pos += p.length; }
  const recvHash = hex(await crypto.subtle.digest('SHA-256', recv));
  let firstDiff = -1;
  if (got === bytes) {
    for (let j = 0; j < bytes; j++) if (recv[j] !== sent[j]) { firstDiff = j; break; }
  }

  async function selectedPair(pc) {
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    if (!pair) {
      stats.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
      });
    }
    if (!pair) return null;
    const l = stats.get(pair.localCandidateId) || {};
    const r = stats.get(pair.remoteCandidateId) || {};
    return {
      state: pair.state,
      local: { type: l.candidateType, address: l.address, port: l.port, protocol: l.protocol, relayProtocol: l.relayProtocol, url: l.url },
      remote: { type: r.candidateType, address: r.address, port: r.port, protocol: r.protocol },
      bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived,
    };
  }
  const pairs = { a: await selectedPair(a), b: await selectedPair(b) };
  a.close();
  b.close();
  return {
    bytes, chunks: parts.length, received: got, sentHash, recvHash, firstDiff,
    pairs, candidates: cands, errors, timings,
  };
}

async function pageGather({ iceServers, gatherTimeoutMs }) {
  const t0 = performance.now();
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  const cands = [];
  const errors = [];
  pc.onicecandidate = (e) => {
    if (e.candidate) cands.push({ type: e.candidate.type, address: e.candidate.address, port: e.candidate.port, relayProtocol: e.candidate.relayProtocol });
  };
  pc.onicecandidateerror = (e) => errors.push({ code: e.errorCode, text: e.errorText, url: e.url });
  pc.createDataChannel('probe');
  const complete = new Promise((resolve) => {
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(true); };
  });
  await pc.setLocalDescription(await pc.createOffer());
  const done = await Promise.race([
    complete,
    new Promise((r) => setTimeout(() => r(false), gatherTimeoutMs)),
  ]);
  const state = pc.iceGatheringState;
  pc.close();
  return {
    gatheringComplete: done, gatheringState: state, candidates: cands,
    relayCandidates: cands.filter((c) => c.type === 'relay').length,
    errors, gather_ms: Math.round(performance.now() - t0),
  };
}

// ---- driver ---------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const result = { ok: false, mode: o.mode, url: o.turnUrl };
  let context = null;
  let profile = null;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.exitCode = 3;
    emit({ ...result, ok: false, reason: `overall timeout after ${o.timeout}s` });
    // Chromium is a child of this process; closing it is best effort.
    if (context) context.close().catch(() => {});
    setTimeout(() => process.exit(3), 2000).unref();
  }, o.timeout * 1000);

  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    emit({ ok: false, reason: `playwright-core not installed (run npm ci in tests/browser): ${e.message}` });
    process.exit(2);
  }
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    '--allow-loopback-in-peer-connection',
    // Keep the mDNS obfuscation of host candidates out of the way; with the
    // relay policy there are none, but then nothing depends on multicast.
    '--disable-features=WebRtcHideLocalIpsWithMdns',
  ];
  if (o.spki) args.push(`--ignore-certificate-errors-spki-list=${o.spki}`);

  try {
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'avedge-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: o.chromium,
      headless: true,
      args,
      timeout: 30000,
      env: { ...process.env, HOME: profile },
      ...(o.verbose ? { logger: { isEnabled: () => true, log: (n, s, m) => process.stderr.write(`[${n}] ${m}\n`) } } : {}),
    });
    result.browser = context.browser() ? context.browser().version() : undefined;
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => { if (o.verbose) process.stderr.write(`[page] ${m.text()}\n`); });
    // A secure context for crypto.subtle, without serving anything.
    await page.route('http://127.0.0.1/avedge-webrtc.html', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>avedge webrtc</title>' }));
    await page.goto('http://127.0.0.1/avedge-webrtc.html');
    const iceServers = [{ urls: o.turnUrl, username: o.username, credential: o.credential }];
    result.launch_ms = Date.now() - t0;

    if (o.mode === 'transfer') {
      // turns: is TLS to the server whatever ?transport says.
      const wantProto = o.turnUrl.startsWith('turns:') ? 'tls'
        : (/[?&]transport=(udp|tcp)/.exec(o.turnUrl) || [, 'udp'])[1];
      const r = await page.evaluate(pageTransfer, { iceServers, bytes: o.bytes, chunk: o.chunk });
      Object.assign(result, r);
      const problems = [];
      if (r.received !== o.bytes) problems.push(`received ${r.received} of ${o.bytes} bytes`);
      if (r.recvHash !== r.sentHash) problems.push(`sha-256 mismatch (first differing byte ${r.firstDiff})`);
      if (r.firstDiff !== -1) problems.push(`byte ${r.firstDiff} differs`);
      for (const side of ['a', 'b']) {
        const p = r.pairs[side];
        if (!p) { problems.push(`no selected candidate pair on ${side}`); continue; }
        if (p.local.type !== 'relay' || p.remote.type !== 'relay')
          problems.push(`selected pair on ${side} is ${p.local.type}/${p.remote.type}, not relay/relay`);
        if (p.local.relayProtocol && p.local.relayProtocol !== wantProto)
          problems.push(`local relay candidate on ${side} uses ${p.local.relayProtocol} to the server, asked for ${wantProto}`);
      }
      result.ok = problems.length === 0;
      if (!result.ok) result.reason = problems.join('; ');
    } else {
      const r = await page.evaluate(pageGather, { iceServers, gatherTimeoutMs: o.gatherTimeout * 1000 });
      Object.assign(result, r);
      const n = r.relayCandidates;
      const problems = [];
      if (!r.gatheringComplete) problems.push(`gathering not complete after ${o.gatherTimeout}s (state ${r.gatheringState})`);
      if (o.expectRelay === 'none' && n !== 0) problems.push(`expected no relay candidates, got ${n}`);
      if (o.expectRelay === 'any' && n === 0) problems.push('expected relay candidates, got none');
      if (/^\d+$/.test(o.expectRelay) && n < Number(o.expectRelay)) problems.push(`expected at least ${o.expectRelay} relay candidates, got ${n}`);
      if (o.expectError && !r.errors.some((e) => e.code === Number(o.expectError)))
        problems.push(`expected an icecandidateerror with code ${o.expectError}, got [${r.errors.map((e) => e.code)}]`);
      result.ok = problems.length === 0;
      if (!result.ok) result.reason = problems.join('; ');
    }
  } catch (e) {
    result.ok = false;
    result.reason = `${e && e.message ? e.message.split('\n')[0] : e}`;
  } finally {
    result.total_ms = Date.now() - t0;
    clearTimeout(timer);
    if (context) await context.close().catch(() => {});
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  }
  if (timedOut) process.exit(3);
  emit(result);
  process.exit(result.ok ? 0 : 1);
}

main();
