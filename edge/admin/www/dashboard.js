// edge/www/dashboard.js - the avedge dashboard (served by the admin server,
// embedded in the binary; no external resources, no framework).
//
// Reads the admin JSON API with the token the user typed, or the one a
// link carried in its fragment (#token=T, which the browser never sends;
// read once, then removed from the address bar), kept in sessionStorage
// and sent as "Authorization: Bearer": /api/stats,
// /api/history (charts), /api/nodes (node list), /api/media/worst (worst
// RTP flows), /api/allocations (table; ?scope=cluster when "cluster" is
// chosen). Everything that comes
// from the API reaches the DOM through textContent only, never innerHTML.
// A 401/403 drops the token and asks for it again.
'use strict';

(function () {
  const TOKEN_KEY = 'avedge.adminToken';
  const POLL_MS = 10000;
  const HOUR_S = 3600;

  const state = {
    timer: null,
    busy: false,
    stats: null,
    history: { interval_s: 10, samples: [] },
    allocs: [],
    prev: new Map(), // id -> {t, in, out}: byte counters at the last poll
    rates: new Map(), // id -> {in, out}: bits/s between the last two polls
    sortKey: 'age_s',
    sortDir: -1,
    filter: '',
    scope: 'node', // allocation table: 'node' or 'cluster'
    nodes: null, // /api/nodes, or {error} when it could not be read
    worst: null, // /api/media/worst, or {error}
    listScope: 'node', // the scope the last listing answered with
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // --- formatting ---------------------------------------------------------

  function fmtBits(bps) {
    if (bps === null || bps === undefined || !isFinite(bps)) return '-';
    const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
    let v = bps;
    let i = 0;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
  }

  function fmtCount(n) {
    if (n === null || n === undefined || !isFinite(n)) return '-';
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return String(Math.round(n * 100) / 100);
  }

  function fmtAge(s) {
    if (s === null || s === undefined || !isFinite(s)) return '-';
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function fmtClock(t) {
    const d = new Date(t * 1000);
    return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
  }

  // --- API ----------------------------------------------------------------

  class Unauthorized extends Error {}

  async function api(path, method) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) throw new Unauthorized('');
    const r = await fetch(path, {
      method: method || 'GET',
      headers: { Authorization: 'Bearer ' + token },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (r.status === 401) throw new Unauthorized('The node refused the token.');
    if (r.status === 403) throw new Unauthorized('The node has no admin-token configured: the API is closed.');
    if (!r.ok) {
      let msg = r.status + ' ' + r.statusText;
      try {
        const j = await r.json();
        if (j && typeof j.error === 'string') msg += ': ' + j.error;
      } catch (e) { /* not JSON */ }
      throw new Error(path + ': ' + msg);
    }
    if (r.status === 204) return null;
    return r.json();
  }

  // --- login --------------------------------------------------------------

  function showLogin(msg) {
    stopPolling();
    sessionStorage.removeItem(TOKEN_KEY);
    $('main').hidden = true;
    for (const id of ['drain', 'undrain', 'logout']) $(id).hidden = true;
    $('login').hidden = false;
    $('login-msg').textContent = msg || '';
    $('token').value = '';
    $('token').focus();
  }

  function showMain() {
    $('login').hidden = true;
    $('main').hidden = false;
    $('logout').hidden = false;
  }

  function stopPolling() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  function startPolling() {
    stopPolling();
    showMain();
    refresh();
    state.timer = setInterval(refresh, POLL_MS);
  }

  // --- polling ------------------------------------------------------------

  function showError(msg) {
    const e = $('error');
    e.textContent = msg || '';
    e.hidden = !msg;
  }

  async function refresh() {
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    state.again = false;
    try {
      const listPath = '/api/allocations?limit=1000' + (state.scope === 'cluster' ? '&scope=cluster' : '');
      // the node list (and a cluster listing) may fail on its own when
      // Redis is down: the rest of the page still shows this node
      const soft = (p) => api(p).catch((e) => { if (e instanceof Unauthorized) throw e; return { error: e.message }; });
      const [stats, history, list, nodes, worst] = await Promise.all([
        api('/api/stats'), api('/api/history'),
        state.scope === 'cluster' ? soft(listPath) : api(listPath), soft('/api/nodes'),
        soft('/api/media/worst'),
      ]);
      state.worst = worst;
      state.stats = stats;
      state.history = history || { interval_s: 10, samples: [] };
      state.nodes = nodes;
      state.listError = list && list.error ? list.error : '';
      state.listScope = list && list.scope === 'cluster' ? 'cluster' : 'node';
      updateRates(list && Array.isArray(list.allocations) ? list.allocations : []);
      state.total = list && typeof list.total === 'number' ? list.total : 0;
      showError('');
      render();
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (e instanceof Unauthorized) showLogin(e.message);
      else showError('Cannot read the admin API: ' + e.message);
    } finally {
      state.busy = false;
      if (state.again && state.timer) setTimeout(refresh, 0);
    }
  }

  function bytesOf(a, dir) {
    const d = a && a[dir];
    return d && typeof d.bytes === 'number' ? d.bytes : null;
  }

  // Bits/s per allocation from the byte counters between two polls.
  function updateRates(allocs) {
    const now = performance.now();
    const seen = new Set();
    for (const a of allocs) {
      seen.add(a.id);
      const cur = { t: now, in: bytesOf(a, 'to_peer'), out: bytesOf(a, 'to_client') };
      const p = state.prev.get(a.id);
      if (p && now > p.t && cur.in !== null && cur.out !== null) {
        const s = (now - p.t) / 1000;
        state.rates.set(a.id, {
          in: Math.max(0, (cur.in - p.in) * 8 / s),
          out: Math.max(0, (cur.out - p.out) * 8 / s),
        });
      }
      state.prev.set(a.id, cur);
    }
    for (const id of Array.from(state.prev.keys())) {
      if (!seen.has(id)) { state.prev.delete(id); state.rates.delete(id); }
    }
    state.allocs = allocs;
  }

  // Loss (%) and jitter (ms) of an allocation: the worse direction of
  // "media": {"to_peer": {loss_pct, jitter_ms} | null, "to_client": ...}
  // (docs/admin.md); null when no RTP was seen or the API has no media.
  function quality(a) {
    const q = { loss: null, jitter: null, title: '' };
    const m = a && a.media;
    if (!m || typeof m !== 'object') return q;
    const parts = [];
    for (const [dir, label] of [['to_peer', 'client \u2192 peer'], ['to_client', 'peer \u2192 client']]) {
      const d = m[dir];
      if (!d || typeof d !== 'object') continue;
      if (typeof d.loss_pct === 'number') q.loss = Math.max(q.loss === null ? 0 : q.loss, d.loss_pct);
      if (typeof d.jitter_ms === 'number') q.jitter = Math.max(q.jitter === null ? 0 : q.jitter, d.jitter_ms);
      parts.push(label + ': loss ' + fmtNum(d.loss_pct, 2) + ' %, jitter ' + fmtNum(d.jitter_ms, 1) + ' ms');
    }
    q.title = parts.length ? parts.join('; ') + ' (as received by the relay: upstream of it)' : '';
    return q;
  }

  function fmtNum(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '-';
  }

  // --- rendering ----------------------------------------------------------

  function render() {
    renderHeader();
    renderCards();
    renderNodes();
    renderWorst();
    renderCharts();
    renderTable();
  }

  function nodeState(s) {
    if (s.draining) return ['draining', 'draining'];
    if (s.ready === false) return ['not ready', 'unready'];
    return ['ready', 'ready'];
  }

  function renderHeader() {
    const s = state.stats || {};
    $('node').textContent = (s.node || '') + (s.version ? ' \u00b7 ' + s.version : '');
    const [text, cls] = nodeState(s);
    $('state').textContent = text;
    $('state').className = 'badge ' + cls;
    $('drain').hidden = !!s.draining;
    $('undrain').hidden = !s.draining;
  }

  function card(label, value) {
    const c = el('div', null, 'card');
    c.appendChild(el('div', label, 'label'));
    c.appendChild(el('div', value, 'value'));
    return c;
  }

  function renderCards() {
    const s = state.stats || {};
    const samples = state.history.samples || [];
    const last = samples.length ? samples[samples.length - 1] : null;
    const authHour = samples.reduce((n, x) => n + (x.auth_failures || 0), 0);
    const ports = s.relay_ports || {};
    const box = $('summary');
    box.replaceChildren(
      card('Allocations', fmtCount(s.allocations)),
      card('Bitrate in', last ? fmtBits(last.bps_in) : '-'),
      card('Bitrate out', last ? fmtBits(last.bps_out) : '-'),
      card('Auth failures (1 h)', fmtCount(authHour)),
      card('Relay ports in use', ports.total ? ports.in_use + ' / ' + ports.total : '-'),
      card('Uptime', fmtAge(s.uptime_s)),
    );
  }

  // The node's worst RTP flows (/api/media/worst), worst first.
  function renderWorst() {
    const w = state.worst;
    const body = $('worst').tBodies[0];
    body.replaceChildren();
    const flows = w && Array.isArray(w.flows) ? w.flows : [];
    for (const f of flows) {
      const tr = el('tr');
      tr.className = 'band-' + String(f.band || '').replace(/[^a-z]/g, '');
      tr.append(el('td', f.id || '-'), el('td', f.user || '-'), el('td', f.realm || '-'),
        el('td', f.peer || '-'),
        el('td', f.direction === 'to_peer' ? 'client \u2192 peer' : 'peer \u2192 client'),
        el('td', f.band || '-'),
        el('td', fmtNum(f.loss_pct, 2) + ' %', 'num'),
        el('td', fmtNum(f.jitter_ms, 1) + ' ms', 'num'),
        el('td', fmtCount(f.packets), 'num'));
      body.appendChild(tr);
    }
    let bands = '';
    if (w && w.bands) {
      const sum = (b) => ['to_peer', 'to_client'].reduce((n, d) => n + ((w.bands[d] || {})[b] || 0), 0);
      bands = '(' + ['good', 'fair', 'poor', 'bad'].map((b) => sum(b) + ' ' + b).join(', ') + ')';
    }
    $('worst-bands').textContent = bands;
    const note = $('worst-note');
    if (!note.dataset.text) note.dataset.text = note.textContent;
    if (w && w.error) note.textContent = 'Cannot read the worst flows: ' + w.error;
    else if (!flows.length) note.textContent = 'No flow had RTP in the last 10 s.';
    else note.textContent = note.dataset.text;
  }

  // A registry entry of /api/nodes: alive (entry not expired), draining.
  function registryState(n) {
    if (n.alive === false) return 'dead (no heartbeat)';
    return n.draining ? 'draining' : 'serving';
  }

  function renderNodes() {
    const r = state.nodes;
    const body = $('nodes').tBodies[0];
    body.replaceChildren();
    const nodes = r && Array.isArray(r.nodes) ? r.nodes : [];
    for (const n of nodes) {
      const tr = el('tr');
      tr.dataset.node = String(n.id || '');
      if (n.alive === false) tr.className = 'dead';
      const id = String(n.id || '') + (n.self ? ' (this node)' : '');
      tr.append(el('td', id), el('td', n.version || '-'), el('td', registryState(n)),
        el('td', fmtCount(n.allocations)),
        el('td', typeof n.load === 'number' ? (n.load * 100).toFixed(0) + ' %' : '-'),
        el('td', n.workers === undefined || n.workers === null ? '-' : n.workers),
        el('td', fmtAge(n.uptime_s)),
        el('td', typeof n.age_s === 'number' ? n.age_s.toFixed(1) + ' s ago' : '-'));
      body.appendChild(tr);
    }
    let note = '';
    if (r && r.error) note = 'The node registry cannot be read: ' + r.error;
    else if (r && r.scope === 'node') note = 'Not clustered (no Redis): this node only.';
    else if (r) note = nodes.length + ' node(s) in the registry, ' + (r.alive || 0) + ' alive.';
    $('nodes-note').textContent = note;
  }

  // --- charts (canvas, drawn by hand) -------------------------------------

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // series: [{label, color, values: [[t, v], ...]}]; opts: {fmt, bars}
  function drawChart(canvas, series, opts) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 400;
    const h = canvas.clientHeight || 180;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '11px system-ui, sans-serif';
    const left = 70;
    const right = 16;
    const top = 18;
    const bottom = 20;
    const pw = w - left - right;
    const ph = h - top - bottom;
    const now = Date.now() / 1000;
    const t0 = now - HOUR_S;
    let max = 0;
    let points = 0;
    for (const s of series) for (const [, v] of s.values) { max = Math.max(max, v); points++; }
    max = niceMax(max);
    // grid and y labels
    g.strokeStyle = '#e5e7eb';
    g.fillStyle = '#667085';
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.beginPath(); g.moveTo(left, y + 0.5); g.lineTo(left + pw, y + 0.5); g.stroke();
      g.fillText(opts.fmt((max * i) / 4), left - 6, y);
    }
    // x labels: every 15 minutes over the last hour
    g.textAlign = 'center';
    g.textBaseline = 'top';
    for (let i = 0; i <= 4; i++) {
      const t = t0 + (HOUR_S * i) / 4;
      g.textAlign = i === 0 ? 'left' : i === 4 ? 'right' : 'center';
      g.fillText(i === 4 ? 'now' : fmtClock(t), left + (pw * i) / 4, top + ph + 5);
    }
    const xOf = (t) => left + ((t - t0) / HOUR_S) * pw;
    const yOf = (v) => top + ph - (v / max) * ph;
    g.save();
    g.beginPath(); g.rect(left, top, pw, ph); g.clip();
    for (const s of series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 1.5;
      if (opts.bars) {
        const bw = Math.max(1, pw / 360 - 1);
        for (const [t, v] of s.values) if (v > 0) g.fillRect(xOf(t) - bw, yOf(v), bw, top + ph - yOf(v));
      } else {
        g.beginPath();
        s.values.forEach(([t, v], i) => (i ? g.lineTo(xOf(t), yOf(v)) : g.moveTo(xOf(t), yOf(v))));
        g.stroke();
        if (s.values.length === 1) {
          const [t, v] = s.values[0];
          g.beginPath(); g.arc(xOf(t), yOf(v), 2.5, 0, 2 * Math.PI); g.fill();
        }
      }
    }
    g.restore();
    g.strokeStyle = '#9ca3af';
    g.lineWidth = 1;
    g.strokeRect(left + 0.5, top + 0.5, pw, ph);
    // legend
    g.textAlign = 'left';
    g.textBaseline = 'middle';
    let x = left + 4;
    for (const s of series) {
      g.fillStyle = s.color;
      g.fillRect(x, 5, 10, 8);
      g.fillStyle = '#1d2330';
      g.fillText(s.label, x + 14, 9);
      x += 24 + g.measureText(s.label).width;
    }
    if (!points) {
      g.fillStyle = '#667085';
      g.textAlign = 'center';
      g.fillText('waiting for the first sample (every ' + (state.history.interval_s || 10) + ' s)',
        left + pw / 2, top + ph / 2);
    }
    canvas.dataset.samples = String(points);
    canvas.dataset.drawn = '1';
  }

  function renderCharts() {
    const samples = (state.history.samples || []).filter((s) => typeof s.t === 'number');
    const pick = (k) => samples.map((s) => [s.t, Number(s[k]) || 0]);
    drawChart($('chart-alloc'), [{ label: 'allocations', color: '#2563eb', values: pick('allocations') }],
      { fmt: fmtCount });
    drawChart($('chart-bps'), [
      { label: 'in', color: '#16a34a', values: pick('bps_in') },
      { label: 'out', color: '#9333ea', values: pick('bps_out') },
    ], { fmt: fmtBits });
    drawChart($('chart-auth'), [{ label: 'auth failures', color: '#dc2626', values: pick('auth_failures') }],
      { fmt: fmtCount, bars: true });
  }

  // --- allocation table ---------------------------------------------------

  function rowOf(a) {
    const r = state.rates.get(a.id) || {};
    const q = quality(a);
    return {
      a,
      id: String(a.id || ''),
      user: String(a.user || ''),
      realm: String(a.realm || ''),
      node: String(a.node || ''),
      transport: String(a.transport || ''),
      client: String(a.client || ''),
      age_s: typeof a.age_s === 'number' ? a.age_s : null,
      bps_in: r.in === undefined ? null : r.in,
      bps_out: r.out === undefined ? null : r.out,
      loss: q.loss,
      jitter: q.jitter,
      qtitle: q.title,
    };
  }

  function compare(x, y) {
    const k = state.sortKey;
    const a = x[k];
    const b = y[k];
    if (a === b) return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
    if (a === null) return 1; // unknowns last, whatever the direction
    if (b === null) return -1;
    const c = typeof a === 'number' && typeof b === 'number' ? a - b
      : String(a).localeCompare(String(b));
    return c * state.sortDir;
  }

  function renderTable() {
    const f = state.filter.toLowerCase();
    const rows = state.allocs.map(rowOf)
      .filter((r) => !f || [r.id, r.user, r.realm, r.client, r.node].some((v) => v.toLowerCase().includes(f)))
      .sort(compare);
    const body = $('allocs').tBodies[0];
    body.replaceChildren();
    for (const r of rows) {
      const tr = el('tr');
      tr.dataset.id = r.id;
      const td = el('td');
      const self = state.stats && state.stats.node;
      if (!r.node || r.node === self) { // only this node's allocations
        const kick = el('button', 'Kick', 'danger');
        kick.type = 'button';
        kick.addEventListener('click', () => doKick(r.id, r.user));
        td.appendChild(kick);
      }
      const loss = el('td', r.loss === null ? '-' : r.loss.toFixed(2) + ' %', 'num');
      const jitter = el('td', r.jitter === null ? '-' : r.jitter.toFixed(1) + ' ms', 'num');
      loss.title = jitter.title = r.qtitle; // a property: plain text
      tr.append(el('td', r.id), el('td', r.user, 'user'), el('td', r.realm), el('td', r.transport),
        el('td', r.client), el('td', fmtAge(r.age_s), 'num'), el('td', fmtBits(r.bps_in), 'num'),
        el('td', fmtBits(r.bps_out), 'num'), loss, jitter, el('td', r.node || '-', 'node'), td);
      body.appendChild(tr);
    }
    if (!rows.length) {
      const tr = el('tr');
      const td = el('td', state.allocs.length ? 'no allocation matches the filter' : 'no allocations', 'empty');
      td.colSpan = 12;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    const total = typeof state.total === 'number' ? state.total : state.allocs.length;
    $('alloc-count').textContent = '(' + total + (total > state.allocs.length
      ? ', showing the first ' + state.allocs.length : '') + ')';
    let note = '';
    if (state.listError) note = 'Cluster view unavailable: ' + state.listError;
    else if (state.scope === 'cluster' && state.listScope !== 'cluster') note = 'No Redis: this node only.';
    else if (state.listScope === 'cluster') note = 'All nodes (from Redis).';
    $('scope-note').textContent = note;
    for (const th of $('allocs').tHead.rows[0].cells) {
      if (!th.dataset.key) continue;
      if (th.dataset.key === state.sortKey) th.setAttribute('aria-sort', state.sortDir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  // --- actions ------------------------------------------------------------

  async function action(path, method, what) {
    try {
      await api(path, method);
      showError('');
    } catch (e) {
      if (e instanceof Unauthorized) { showLogin(e.message); return; }
      showError(what + ' failed: ' + e.message);
    }
    refresh();
  }

  function doKick(id, user) {
    if (!window.confirm('Kick allocation ' + id + ' of user "' + user + '"? Its relay closes now.')) return;
    action('/api/allocations/' + encodeURIComponent(id), 'DELETE', 'Kick');
  }

  function doDrain(on) {
    const q = on ? 'Drain this node? New allocations are refused; existing ones keep running.'
      : 'Stop draining this node and accept new allocations again?';
    if (!window.confirm(q)) return;
    action(on ? '/api/drain' : '/api/undrain', 'POST', on ? 'Drain' : 'Undrain');
  }

  // --- wiring -------------------------------------------------------------

  // A token in the URL's fragment (#token=T, as deploy/demo.sh prints it)
  // goes to sessionStorage, and the fragment leaves the address bar and
  // the history entry so that it is not bookmarked or shared.
  function tokenFromFragment() {
    const m = /^#token=([^&]+)$/.exec(window.location.hash);
    if (!m) return;
    let t = '';
    try { t = decodeURIComponent(m[1]).trim(); } catch (e) { t = ''; }
    history.replaceState(null, '', window.location.pathname + window.location.search);
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
  }

  function init() {
    tokenFromFragment();
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token').value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      startPolling();
    });
    $('logout').addEventListener('click', () => showLogin(''));
    $('drain').addEventListener('click', () => doDrain(true));
    $('undrain').addEventListener('click', () => doDrain(false));
    $('filter').addEventListener('input', (ev) => { state.filter = ev.target.value; renderTable(); });
    $('scope').addEventListener('change', (ev) => {
      state.scope = ev.target.value === 'cluster' ? 'cluster' : 'node';
      state.prev.clear();
      state.rates.clear();
      refresh();
    });
    for (const th of $('allocs').tHead.rows[0].cells) {
      if (!th.dataset.key) continue;
      th.addEventListener('click', () => {
        if (state.sortKey === th.dataset.key) state.sortDir = -state.sortDir;
        else { state.sortKey = th.dataset.key; state.sortDir = 1; }
        renderTable();
      });
    }
    let resize = null;
    window.addEventListener('resize', () => {
      clearTimeout(resize);
      resize = setTimeout(() => { if (!$('main').hidden) renderCharts(); }, 150);
    });
    if (sessionStorage.getItem(TOKEN_KEY)) startPolling();
    else showLogin('');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
