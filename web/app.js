/* app.js -- the fedsched dashboard: a small single-page app over the HTTP API.
 * Views: overview, jobs (server-side filtering and keyset pagination, kept current by the
 * list's watch stream), job detail (watch long-poll), the queue (one what-if for all), clusters (capacity, serving demand
 * forecast against actual, prerequisite conditions, borrowed jobs), reports. The other views poll only while the tab is
 * visible; every value from the API is inserted as text, never as HTML. */
'use strict';

const PHASES = ['Queued', 'Admitted', 'Dispatched', 'Running', 'Succeeded', 'Failed',
  'Cancelled', 'Preempting', 'Lost'];
const TERMINAL = new Set(['Succeeded', 'Failed', 'Cancelled']);
const REFRESH_MS = 5000;

/* ---- DOM helpers ---- */

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const kid of kids.flat()) {
    if (kid !== undefined && kid !== null) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function badge(text, extra) {
  return h('span', { class: 'badge ' + (extra || text || '') }, text || '-');
}

function link(href, ...kids) {
  return h('a', { href, 'data-nav': true }, ...kids);
}

function errorBox(err) {
  return h('div', { class: 'error', role: 'alert' }, String(err && err.message ? err.message : err));
}

function fmtNum(v, d) {
  if (v === undefined || v === null || v === '' || typeof v === 'boolean') return '-';
  const n = Number(v);
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { maximumFractionDigits: d || 0,
    minimumFractionDigits: d || 0 });
}

function ago(ts) {
  if (!ts) return '-';
  const sec = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  if (sec < 120) return sec + 's';
  if (sec < 7200) return Math.round(sec / 60) + 'm';
  if (sec < 172800) return Math.round(sec / 3600) + 'h';
  return Math.round(sec / 86400) + 'd';
}

function dur(ms) {
  if (ms === null || ms === undefined) return '-';
  const sec = ms / 1000;
  if (sec < 90) return sec.toFixed(sec < 10 ? 1 : 0) + ' s';
  if (sec < 5400) return (sec / 60).toFixed(0) + ' min';
  return (sec / 3600).toFixed(1) + ' h';
}

/* From the (last) start to the end, or to now while it runs; '-' before it starts. */
function runTime(st) {
  if (!st.startTime) return '-';
  const end = st.completionTime ? Date.parse(st.completionTime) : Date.now();
  return dur(Math.max(0, end - Date.parse(st.startTime))) + (st.completionTime ? '' : ' so far');
}

function when(ts) {
  if (!ts) return '-';
  const d = new Date(ts);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/* ---- API ---- */

function token() {
  try { return localStorage.getItem('fedsched.token') || ''; } catch (e) { return ''; }
}

class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? `${status} ${e.code}: ${e.field ? e.field + ': ' : ''}${e.message}`
      : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, opts) {
  const headers = { Accept: 'application/json' };
  const tok = token();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  const r = await fetch(path, { method, headers, signal: opts && opts.signal,
    cache: 'no-store' });
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!r.ok) {
    if (r.status === 401) document.getElementById('token-box').hidden = false;
    throw new ApiError(r.status, body);
  }
  live.ok();
  return body;
}

const get = (path, opts) => api('GET', path, opts);

const sleep = ms => new Promise(r => setTimeout(r, ms));

/* Follows a list through its watch: GET base?watch=true&resourceVersion=RV with the
 * list's filters, whose body is a stream of watch events, one JSON object a line, read
 * as it arrives. onEvent(ev) gets each ADDED, MODIFIED and DELETED. When the stream ends
 * or fails it resumes from the last version seen (a BOOKMARK's included); when the
 * version is too old (an ERROR event with code 410) it calls relist(), which shows the
 * list again and returns its version. */
async function followList(sc, base, params, rv, onEvent, relist) {
  let failures = 0;
  while (sc.alive) {
    const p = new URLSearchParams(params);
    p.set('watch', 'true');
    p.set('allowWatchBookmarks', 'true');
    p.set('timeoutSeconds', '900');
    p.set('resourceVersion', rv);
    try {
      const headers = { Accept: 'application/json' };
      const tok = token();
      if (tok) headers.Authorization = 'Bearer ' + tok;
      const r = await fetch(`${base}?${p}`, { headers, signal: sc.signal, cache: 'no-store' });
      if (!r.ok) {
        let body = null;
        try { body = await r.json(); } catch (e) { body = null; }
        throw new ApiError(r.status, body);
      }
      live.ok('streaming');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let text = '', gone = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        let nl;
        while ((nl = text.indexOf('\n')) >= 0) {
          const line = text.slice(0, nl);
          text = text.slice(nl + 1);
          if (!line.trim()) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'ERROR') {
            const st = ev.object || {};
            if (st.code !== 410) throw new Error(`watch: ${st.code} ${st.reason}: ${st.message}`);
            gone = true;
            continue;
          }
          const md = (ev.object && ev.object.metadata) || {};
          if (md.resourceVersion) rv = md.resourceVersion;
          if (ev.type !== 'BOOKMARK') onEvent(ev);
          live.ok('streaming');
        }
      }
      if (gone && sc.alive) rv = await relist();
      failures = 0;
    } catch (e) {
      if (e.name === 'AbortError' || !sc.alive) return;
      live.fail(e);
      failures++;
      await sleep(Math.min(30000, 500 * 2 ** Math.min(failures, 6)));
    }
  }
}

/* ---- live status and refresh ---- */

const live = {
  el: null,
  ok(how) {
    if (!this.el) return;
    this.el.textContent = `live · ${how || 'updated'} ` + new Date().toLocaleTimeString();
    this.el.classList.remove('err');
  },
  fail(err) {
    if (!this.el) return;
    this.el.textContent = 'update failed: ' + (err.message || err);
    this.el.classList.add('err');
  },
};

/* The current view's timers and requests; cleared on navigation. */
let scope = null;

function newScope() {
  if (scope) scope.stop();
  const timers = [];
  const ctrl = new AbortController();
  scope = {
    signal: ctrl.signal,
    alive: true,
    every(ms, fn) {
      let busy = false;
      const tick = async () => {
        if (document.hidden || busy || !this.alive) return;
        busy = true;
        try { await fn(); } catch (e) { if (this.alive) live.fail(e); } finally { busy = false; }
      };
      timers.push(setInterval(tick, ms));
    },
    stop() { this.alive = false; timers.forEach(clearInterval); ctrl.abort(); },
  };
  return scope;
}

/* ---- charts (inline SVG) ---- */

/* Drawn at the page's width in user units, so text stays at its size. */
function chartWidth() {
  const app = document.getElementById('app');
  return Math.max(480, Math.min(1320, (app ? app.clientWidth : 800) - 40));
}

/* A y axis of four equal steps whose labels are round: the step is 1, 2, 2.5, 4 or 5 times a
 * power of ten, the smallest of those that reaches max; digits is what the step needs. */
function axisScale(max) {
  const raw = (max > 0 ? max : 1) / 4, f = raw / 10 ** Math.floor(Math.log10(raw));
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 4 ? 4 : f <= 5 ? 5 : 10;
  const e = Math.floor(Math.log10(raw)) + (m === 10 ? 1 : 0), step = (m === 10 ? 1 : m) * 10 ** e;
  return { max: step * 4, digits: Math.max(0, -e + (m === 2.5 ? 1 : 0)) };
}

function stackedChart(points, opts) {
  const W = opts.width || chartWidth(), H = opts.height || 220, L = 56, R = 10, T = 10, B = 34;
  const pw = W - L - R, ph = H - T - B;
  const keys = opts.keys;
  const val = (p, k) => (k.value ? k.value(p) : p[k.key]) || 0;
  let max = 0;
  for (const p of points) max = Math.max(max, keys.reduce((a, k) => a + val(p, k), 0));
  const axis = axisScale(max);
  max = axis.max;
  const bw = points.length ? pw / points.length : pw;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': opts.label, class: 'chart' });
  for (let g = 0; g <= 4; g++) {
    const y = T + ph - ph * g / 4;
    svg.append(s('line', { x1: L, y1: y, x2: W - R, y2: y, stroke: '#eaeef2' }),
      s('text', { x: L - 4, y: y + 4, 'text-anchor': 'end', class: 'tick' }, fmtNum(max * g / 4, axis.digits)));
  }
  points.forEach((p, i) => {
    let y = T + ph;
    for (const k of keys) {
      const hgt = ph * val(p, k) / max;
      if (hgt <= 0) continue;
      y -= hgt;
      svg.append(s('rect', { x: L + bw * i + bw * 0.1, y, width: Math.max(bw * 0.8, 1),
        height: hgt, fill: k.color }, s('title', {}, `${when(p.start)} ${k.name}: ${fmtNum(val(p, k), 2)}`)));
    }
  });
  if (opts.line && points.length) {
    const pts = points.map((p, i) => `${L + bw * (i + 0.5)},${T + ph - ph * (p[opts.line.key] || 0) / max}`);
    svg.append(s('polyline', { points: pts.join(' '), fill: 'none', stroke: opts.line.color,
      'stroke-width': 2 }));
  }
  const every = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    if (i % every) return;
    svg.append(s('text', { x: L + bw * i, y: H - B + 16 },
      new Date(p.start).toISOString().slice(opts.daily ? 5 : 11, opts.daily ? 10 : 16)));
  });
  const legend = h('div', { class: 'legend' },
    keys.map(k => h('span', {}, h('i', { style: `background:${k.color}` }), k.name)),
    opts.line ? h('span', {}, h('i', { style: `background:${opts.line.color};height:3px` }),
      opts.line.name) : null);
  return h('div', {}, svg, legend);
}

function hbars(items, opts) {
  const W = Math.min(760, chartWidth() / 2 - 40), L = 150, R = 150, row = 22;
  const H = 10 + row * Math.max(items.length, 1);
  const max = opts.max || Math.max(1, ...items.map(i => Math.max(i.value, i.second || 0)));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': opts.label });
  items.forEach((it, i) => {
    const y = 6 + row * i, w = (W - L - R) * it.value / max;
    svg.append(s('text', { x: L - 6, y: y + 11, 'text-anchor': 'end' }, it.label),
      s('rect', { x: L, y: y + 2, width: Math.max(w, 0), height: 11, fill: opts.color || '#4e79a7' }),
      s('text', { x: L + w + 4, y: y + 11 }, it.text));
    if (it.second !== undefined) {
      const w2 = (W - L - R) * it.second / max;
      svg.append(s('rect', { x: L, y: y + 14, width: Math.max(w2, 0), height: 4, fill: '#f28e2b' }));
    }
  });
  if (!items.length) svg.append(s('text', { x: 8, y: 20 }, 'no data'));
  return svg;
}

/* A report step's GPU-hours, stacked: idle is split into free and unavailable (on nodes
 * NotReady, cordoned or tainted), which the report counts inside idle. */
const SERIES = [
  { key: 'gpuHoursTraining', name: 'training', color: '#4e79a7' },
  { key: 'gpuHoursServing', name: 'serving', color: '#f28e2b' },
  { name: 'idle', color: '#d7d2cc',
    value: p => Math.max(0, (p.gpuHoursIdle || 0) - (p.gpuHoursUnavailable || 0)) },
  { key: 'gpuHoursUnavailable', name: 'unavailable', color: '#9c755f' },
];
const BORROWED = { key: 'gpuHoursBorrowed', name: 'borrowed', color: '#e15759' };

/* ---- tables ---- */

function table(headers, rows, opts) {
  return h('table', { class: opts && opts.class, 'data-testid': opts && opts.testid },
    h('thead', {}, h('tr', {}, headers.map(c => h('th', { class: c.num ? 'num' : null, title: c.title }, c.label || c)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' },
      (opts && opts.empty) || 'nothing here'))));
}

function num(v, d) {
  return h('td', { class: 'num' }, fmtNum(v, d));
}

/* ---- overview ---- */

const UNAVAILABLE_TITLE = 'neither used nor free: GPUs of nodes NotReady, cordoned or tainted';

/* Serving demand belongs to serving pools: a training pool shows '-', as the CLI does. */
function servingOnly(a, key) {
  return a.pool === 'serving' ? a[key] : null;
}

function sumCapacity(caps) {
  const t = { total: 0, used: 0, free: 0, unavailable: 0, borrowed: 0, lendable: 0, pendingServing: 0,
    announcedServing: 0 };
  for (const c of caps || []) for (const k of Object.keys(t)) t[k] += c[k] || 0;
  return t;
}

async function viewOverview(root, sc) {
  const stats = h('div', { class: 'stats', 'data-testid': 'overview-stats' });
  const capCard = h('div', { class: 'card' });
  const chartCard = h('div', { class: 'card' });
  const clusterCard = h('div', { class: 'card' });
  const queueCard = h('div', { class: 'card' });
  const quotaCard = h('div', { class: 'card' });
  // The capacity table has ten columns: it takes the whole width, as the clusters do.
  root.append(h('h1', {}, 'Federation overview'), stats, chartCard, capCard, clusterCard, queueCard,
    quotaCard);

  async function section(card, title, fn) {
    try {
      const body = await fn();
      card.replaceChildren(h('h2', {}, title), body);
    } catch (e) {
      if (e.name === 'AbortError') return;
      card.replaceChildren(h('h2', {}, title), errorBox(e));
    }
  }

  async function refresh() {
    await Promise.all([
      section(capCard, 'GPUs by SKU and pool', async () => {
        const cap = await get('/v1/capacity', sc);
        const t = sumCapacity(cap.capacity);
        stats.replaceChildren(...[['GPUs', t.total], ['used', t.used], ['free', t.free],
          ['unavailable', t.unavailable], ['borrowed', t.borrowed], ['lendable', t.lendable], ['pending serving', t.pendingServing],
          ['announced serving', t.announcedServing],
          ['clusters counted', cap.clustersCounted]].map(([k, v]) =>
          h('div', { class: 'stat' }, h('div', { class: 'v' }, fmtNum(v)), h('div', { class: 'k' }, k))));
        const rows = (cap.capacity || []).map(c => h('tr', {}, h('td', {}, c.sku), h('td', {}, c.pool),
          num(c.total), num(c.used), num(c.free), num(c.unavailable), num(c.borrowed), num(c.lendable),
          num(servingOnly(c, 'pendingServing')), num(c.announcedServing)));
        const excluded = (cap.clustersExcluded || []).map(x => `${x.name} (${x.reason})`).join(', ');
        return h('div', {}, table(['SKU', 'pool', { label: 'total', num: 1 }, { label: 'used', num: 1 },
          { label: 'free', num: 1 },
          { label: 'unavailable', num: 1, title: UNAVAILABLE_TITLE },
          { label: 'borrowed', num: 1 }, { label: 'lendable', num: 1 },
          { label: 'pending serving', num: 1 }, { label: 'announced serving', num: 1 }], rows, { testid: 'capacity-table',
          empty: 'no capacity reported yet' }),
        h('p', { class: 'note' }, `data age ${dur(cap.dataAgeMs)}`,
          excluded ? ` · not counted: ${excluded}` : ''));
      }),
      section(chartCard, 'GPU-hours per hour, last 24 hours', async () => {
        /* Whole hours: the server reads their sums, not every sample. */
        const rep = await get('/v1/reports/capacity?from=now-24h/h&to=now&step=1h&format=json', sc);
        return stackedChart(rep.federation, { keys: SERIES, line: BORROWED,
          label: 'federation GPU-hours by hour' });
      }),
      section(clusterCard, 'Clusters at a glance', async () => {
        const list = await get('/v1/clusters', sc);
        const rows = (list.items || []).map(c => {
          const t = sumCapacity(c.status && c.status.capacity);
          return h('tr', {}, h('td', {}, link('/ui/clusters#' + encodeURIComponent(c.name), c.name)),
            h('td', {}, badge(c.status && c.status.health), c.cordoned ? [' ', badge('cordoned')] : null),
            h('td', {}, dur(c.status && c.status.dataAgeMs)), num(t.total), num(t.used), num(t.free),
            num(t.unavailable), num(t.borrowed),
            h('td', { class: 'wrap muted' }, (c.status && c.status.lastError) || ''));
        });
        return table(['cluster', 'health', 'data age', { label: 'GPUs', num: 1 }, { label: 'used', num: 1 },
          { label: 'free', num: 1 }, { label: 'unavailable', num: 1 }, { label: 'borrowed', num: 1 },
          'last error'], rows,
        { testid: 'clusters-glance', empty: 'no member clusters registered' });
      }),
      section(queueCard, 'Queue depth by SKU', async () => {
        const q = await get('/v1/reports/queue', sc);
        const rows = (q.items || []).map(i => h('tr', {},
          h('td', {}, link('/ui/jobs?phase=Queued&sku=' + encodeURIComponent(i.sku), i.sku)),
          num(i.jobs), num(i.gpus), h('td', {}, ago(i.oldestQueuedAt))));
        return table(['SKU', { label: 'queued jobs', num: 1 }, { label: 'GPUs asked', num: 1 },
          'oldest waiting'], rows, { testid: 'queue-table', empty: 'nothing queued' });
      }),
      section(quotaCard, 'Quotas', async () => {
        /* GET /v1/quotas: a limit of null is unlimited; cohorts only for those who read all. */
        const q = await get('/v1/quotas', sc);
        const lim = v => h('td', { class: 'num' }, v === null || v === undefined ? 'unlimited' : fmtNum(v));
        const rows = (q.items || []).map(i => h('tr', { 'data-quota': `${i.namespace}/${i.sku}` },
          h('td', {}, i.namespace + (i.configured ? '' : ' (no quota row)')), h('td', {}, i.sku),
          num(i.nominal), num(i.usedGpus), num(i.borrowedGpus), num(i.queuedJobs), num(i.queuedGpus),
          lim(i.borrowingLimit), lim(i.lendingLimit)));
        const cohorts = (q.cohorts || []).map(c => `${c.sku}: ${fmtNum(c.availableGpus)} of ` +
          `${fmtNum(c.lendableGpus)} lendable GPUs left to borrow`);
        return h('div', {}, table(['namespace', 'SKU', { label: 'nominal', num: 1 }, { label: 'used', num: 1 },
          { label: 'borrowed', num: 1 }, { label: 'queued jobs', num: 1 }, { label: 'queued GPUs', num: 1 },
          { label: 'borrowing limit', num: 1 }, { label: 'lending limit', num: 1 }], rows,
        { testid: 'quota-table', empty: 'no quotas configured' }),
        cohorts.length ? h('p', { class: 'note', 'data-testid': 'quota-cohorts' }, 'cohorts: ' + cohorts.join(' · ')) : null);
      }),
    ]);
  }
  await refresh();
  sc.every(REFRESH_MS * 2, refresh);
}

/* ---- jobs ---- */

function jobRow(j) {
  const res = (j.spec && j.spec.resources) || {};
  const st = j.status || {};
  const ns = j.metadata.namespace, name = j.metadata.name;
  return h('tr', { 'data-job': `${ns}/${name}` }, h('td', {}, ns),
    h('td', {}, link(`/ui/jobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, name)),
    h('td', {}, badge(st.phase)), h('td', {}, res.instanceType), num(res.gpuCount),
    h('td', {}, st.cluster || '-'), h('td', {}, st.pool || '-'),
    h('td', { title: j.metadata.creationTimestamp }, ago(j.metadata.creationTimestamp)),
    h('td', { class: 'wrap muted' }, st.message || ''));
}

async function viewJobs(root, sc) {
  const q = new URLSearchParams(location.search);
  const f = { ns: q.get('ns') || '', phase: q.get('phase') || '', sku: q.get('sku') || '',
    labels: q.get('labels') || '', limit: q.get('limit') || '50',
    cluster: q.get('cluster') || '', age: q.get('age') || '',
    order: q.get('order') === 'oldest' ? 'oldest' : 'newest' };
  const tokens = [''];  /* continue tokens of the pages seen; the last is the current page's */
  let next = null;

  const nsIn = h('input', { name: 'ns', value: f.ns, placeholder: 'all namespaces', size: 14 });
  const phaseIn = h('select', { name: 'phase' }, h('option', { value: '' }, 'any phase'),
    PHASES.map(p => h('option', { value: p, selected: p === f.phase }, p)));
  const skuIn = h('input', { name: 'sku', value: f.sku, placeholder: 'any SKU', size: 12 });
  const labelIn = h('input', { name: 'labels', value: f.labels, placeholder: 'team=maps', size: 16 });
  const clusterIn = h('input', { name: 'cluster', value: f.cluster, placeholder: 'any cluster', size: 12 });
  /* Age: created within the last hour, day or week (createdAfter on the server). */
  const AGES = { '': 'any age', '1h': 'last hour', '24h': 'last day', '168h': 'last week' };
  const ageIn = h('select', { name: 'age' }, Object.entries(AGES).map(([v, label]) =>
    h('option', { value: v, selected: v === f.age }, label)));
  const limitIn = h('select', { name: 'limit' }, ['25', '50', '100', '200'].map(v =>
    h('option', { value: v, selected: v === f.limit }, v)));
  /* Newest first by default, as a job dashboard is read; the API's default is creation order. */
  const orderIn = h('select', { name: 'order' }, [['newest', 'newest first'], ['oldest', 'oldest first']]
    .map(([v, label]) => h('option', { value: v, selected: v === f.order }, label)));
  const form = h('form', { class: 'filters', 'data-testid': 'job-filters', onsubmit: e => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (nsIn.value.trim()) p.set('ns', nsIn.value.trim());
    if (phaseIn.value) p.set('phase', phaseIn.value);
    if (skuIn.value.trim()) p.set('sku', skuIn.value.trim());
    if (labelIn.value.trim()) p.set('labels', labelIn.value.trim());
    if (clusterIn.value.trim()) p.set('cluster', clusterIn.value.trim());
    if (ageIn.value) p.set('age', ageIn.value);
    if (limitIn.value !== '50') p.set('limit', limitIn.value);
    if (orderIn.value !== 'newest') p.set('order', orderIn.value);
    navigate('/ui/jobs' + (p.toString() ? '?' + p : ''));
  } }, h('label', {}, 'namespace', nsIn), h('label', {}, 'phase', phaseIn),
  h('label', {}, 'SKU', skuIn), h('label', {}, 'cluster', clusterIn), h('label', {}, 'age', ageIn),
  h('label', {}, 'labels', labelIn), h('label', {}, 'order', orderIn), h('label', {}, 'per page', limitIn),
  h('button', { class: 'btn', type: 'submit' }, 'Filter'),
  h('a', { href: '/ui/jobs', 'data-nav': true }, 'clear'));

  const holder = h('div', { 'data-testid': 'jobs-holder' });
  const pageInfo = h('span', { class: 'muted' });
  const prev = h('button', { class: 'btn small ghost', type: 'button', onclick: async () => {
    if (tokens.length > 1) { tokens.pop(); await reload(); }
  } }, '← previous');
  const nextBtn = h('button', { class: 'btn small ghost', type: 'button', 'data-testid': 'next-page',
    onclick: async () => { if (next) { tokens.push(next); await reload(); } } }, 'next →');
  root.append(h('h1', {}, 'Training jobs'), form, h('div', { class: 'card' }, holder,
    h('div', { class: 'pager' }, prev, pageInfo, nextBtn)),
  h('p', { class: 'note' }, 'Filtering and paging run in the database (keyset pages: no OFFSET), ' +
    'so a page costs the same with 100,000 jobs. The page follows the list\'s watch stream: ' +
    'changes show as they happen, without polling.'));

  /* The filters as query parameters, shared by the list and its watch (which has no order). */
  function filterParams() {
    const p = new URLSearchParams();
    if (f.phase) p.set('phase', f.phase);
    if (f.sku) p.set('sku', f.sku);
    if (f.labels) p.set('labelSelector', f.labels);
    if (f.cluster) p.set('cluster', f.cluster);
    if (f.age) {
      if (!f.after) f.after = new Date(Date.now() - parseInt(f.age, 10) * 3600e3).toISOString();
      p.set('createdAfter', f.after); /* fixed for the listing, so continue tokens stay valid */
    }
    return p;
  }
  const base = f.ns ? `/v1/namespaces/${encodeURIComponent(f.ns)}/trainingjobs` : '/v1/trainingjobs';
  let shown = 0, top = ''; /* top: the creation time of the first row shown */

  function showCount() {
    pageInfo.textContent = `page ${tokens.length} · ${shown} jobs`;
  }

  /* Shows the current page; returns the list's resourceVersion, where its watch starts. */
  async function load() {
    const p = filterParams();
    p.set('limit', f.limit);
    p.set('order', f.order);
    const cur = tokens[tokens.length - 1];
    if (cur) p.set('continue', cur);
    try {
      const list = await get(`${base}?${p}`, sc);
      next = list.metadata && list.metadata.continue || null;
      holder.replaceChildren(table(['namespace', 'name', 'phase', 'SKU', { label: 'GPUs', num: 1 },
        'cluster', 'pool', 'age', 'message'], list.items.map(jobRow),
      { testid: 'jobs-table', empty: 'no jobs match these filters' }));
      shown = list.items.length;
      top = shown ? list.items[0].metadata.creationTimestamp || '' : '';
      showCount();
      prev.disabled = tokens.length < 2;
      nextBtn.disabled = !next;
      return list.metadata && list.metadata.resourceVersion || '0';
    } catch (e) {
      if (e.name === 'AbortError') return '0';
      holder.replaceChildren(errorBox(e));
      throw e;
    }
  }

  /* One watch event on the page: a job shown is redrawn (or removed when it left the
   * filters). A new one goes on top of the first page, newest first (the page grows past its
   * size rather than push a job to the next page, whose token starts after the last row
   * shown); oldest first, at the end of the last page while it has room, and a job for a
   * later page only enables "next". */
  function apply(ev) {
    const j = ev.object;
    const key = `${j.metadata.namespace}/${j.metadata.name}`;
    const body = holder.querySelector('[data-testid="jobs-table"] tbody');
    if (!body) return;
    const row = [...body.querySelectorAll('tr[data-job]')].find(r => r.dataset.job === key);
    if (ev.type === 'DELETED') {
      if (row) { row.remove(); shown--; showCount(); }
      return;
    }
    if (row) { row.replaceWith(jobRow(j)); return; }
    const newest = f.order === 'newest', created = j.metadata.creationTimestamp || '';
    /* Newest first, a job older than the top row (one that came into the filters) has its
     * place further down: the next load shows it there. */
    if (newest ? tokens.length > 1 || created < top : next || shown >= parseInt(f.limit, 10)) return;
    if (!shown) body.replaceChildren();
    if (newest) { body.prepend(jobRow(j)); top = created; } else body.append(jobRow(j));
    shown++;
    showCount();
  }

  async function reload() {
    try { return await load(); } catch (e) { live.fail(e); return '0'; }
  }
  const rv = await reload();
  followList(sc, base, filterParams(), rv, apply, reload);
}

/* ---- job detail ---- */

/* What the cost term priced (decisions recorded before it was reported have neither). */
function priced(score) {
  if (score.pricePerGpuHour === undefined) return null;
  const f = score.workFactor;
  return h('p', { class: 'note', 'data-testid': 'priced' },
    `cost term: ${fmtNum(score.pricePerGpuHour, 3)} per GPU-hour` +
    (f !== undefined && f !== 1 ? ` × ${fmtNum(f, 3)} for the job's throughput here (per unit of work)` : ''));
}

/* A queued job's place in its SKU's queue and its estimated start (explain's queue). */
function queueLine(q) {
  if (!q || q.position === undefined) return null;
  const ahead = q.ahead || {};
  return h('div', { 'data-testid': 'queue' }, h('p', {},
    `Queue: position ${q.position}, ${ahead.jobs} job${ahead.jobs === 1 ? '' : 's'} and ${ahead.gpus} GPUs ahead; estimated start `,
    h('span', { 'data-testid': 'eta' }, q.estimatedStart ? when(q.estimatedStart)
      : q.noEstimate === 'never' ? 'never as the federation stands: no GPU that frees up can take it'
        : 'unknown'),
    q.basis && q.basis.capped ? ' (the simulation hit its cap)' : ''));
}

function explainView(x) {
  if (!x) return h('p', { class: 'muted' }, 'no explanation available');
  const view = explainBody(x), queue = x.phase === 'Queued' ? queueLine(x.queue) : null;
  if (queue) view.append(queue);
  return view;
}

function explainBody(x) {
  if (x.status === 'placed') {
    /* One shape (the API's): score = {cluster, pool, sku, total, terms: {fit, ...}}. A job
     * still Queued is a what-if; any other phase is the decision the scheduler took. */
    const score = x.score || {};
    const rows = [['total', score.total], ...Object.entries(score.terms || {})]
      .map(([k, v]) => h('tr', { 'data-term': k }, h('td', {}, k), num(v, 3)));
    const ru = x.runner_up;
    const decided = x.phase && x.phase !== 'Queued';
    return h('div', { 'data-testid': 'explain' },
      h('p', {}, decided ? 'Placed in ' : 'Would be placed in ', h('b', {}, x.cluster || '-'),
        ` (pool ${x.pool || '-'}, SKU ${x.sku || '-'}) `,
        x.candidates !== undefined ? `out of ${x.candidates} candidate clusters` : ''),
      table(['score term', { label: 'value', num: 1 }], rows, { empty: 'no score terms' }),
      ru && ru.cluster ? h('p', { class: 'note' }, `runner-up: ${ru.cluster}` +
        (ru.total !== undefined ? ` (total ${fmtNum(ru.total, 3)})` : '')) : null,
      priced(score));
  }
  if (x.status === 'pending') {
    const why = w => h('li', {}, h('b', {}, w.reason || '-'),
      w.cluster || w.sku || w.pool ? ` [${[w.cluster, w.sku, w.pool].filter(Boolean).join(' ')}]` : '',
      ': ', w.message || '');
    return h('div', { 'data-testid': 'explain' },
      h('p', {}, 'Pending: ', x.reason ? h('span', {}, h('b', {}, x.reason.reason), ' — ', x.reason.message) : ''),
      /* Lower-priority jobs are being preempted for it: which, and where. */
      x.preemption ? h('p', { 'data-testid': 'preemption' }, 'Preempting: ', x.preemption.message) : null,
      (x.quota || []).length ? h('div', {}, h('h2', {}, 'Quota'), h('ul', {}, x.quota.map(why))) : null,
      /* A held job, or one in a retry backoff, has no what-if: no clusters to show. */
      (x.clusters || []).length ? h('h2', {}, 'Per cluster') : null,
      h('ul', {}, (x.clusters || []).map(c => h('li', {}, h('b', {}, c.cluster), c.fits ? ' (fits)' : '',
        h('ul', {}, (c.reasons || []).map(why))))));
  }
  return h('div', { 'data-testid': 'explain' },
    h('p', {}, badge(x.phase || x.status), ' ', x.cluster ? `in ${x.cluster}` : '', x.pool ? ` (pool ${x.pool})` : '',
      x.message ? ` — ${x.message}` : ''));
}

async function viewJob(root, sc, ns, name) {
  const base = `/v1/namespaces/${encodeURIComponent(ns)}/trainingjobs/${encodeURIComponent(name)}`;
  const head = h('div', { class: 'row' });
  const statusCard = h('div', { class: 'card' });
  const explainCard = h('div', { class: 'card' });
  const timelineCard = h('div', { class: 'card' });
  const specCard = h('div', { class: 'card' });
  root.append(h('p', {}, link('/ui/jobs', '← jobs')), head,
    h('div', { class: 'grid' }, statusCard, explainCard), timelineCard, specCard);
  let rv = null;

  function cancelButton(job) {
    const phase = job.status.phase;
    if (TERMINAL.has(phase)) return null;
    const wrap = h('span', { class: 'confirm' });
    const ask = h('button', { class: 'btn small danger', type: 'button', 'data-testid': 'cancel',
      onclick: () => {
        wrap.replaceChildren(h('span', {}, 'Cancel this job?'),
          h('button', { class: 'btn small danger', type: 'button', 'data-testid': 'confirm-cancel',
            onclick: async () => {
              try {
                await api('DELETE', base, sc);
                await renderAll();
              } catch (e) { wrap.replaceChildren(errorBox(e.status === 403 || e.status === 401
                ? 'you are not allowed to cancel this job: ' + e.message : e)); }
            } }, 'Yes, cancel'),
          h('button', { class: 'btn small ghost', type: 'button', onclick: () => wrap.replaceChildren(ask) }, 'No'));
      } }, 'Cancel job');
    wrap.append(ask);
    return wrap;
  }

  function renderJob(job) {
    const st = job.status || {}, md = job.metadata || {};
    rv = md.resourceVersion;
    /* replaceChildren() would print a null (no cancel button on a finished job) as "null". */
    head.replaceChildren(...[h('h1', {}, `${md.namespace}/${md.name}`), badge(st.phase),
      cancelButton(job)].filter(Boolean));
    const kv = [['phase', st.phase], ['held', st.held ? 'yes: not placed until released' : 'no'],
      ['cluster', st.cluster], ['pool', st.pool],
      ['member namespace', st.memberNamespace], ['object', st.objectName], ['attempt', st.attempt], ['preemptions', st.preemptions], ['reason', st.reason],
      ['message', st.message], ['submitted', when(md.creationTimestamp)], ['admitted', when(st.admittedAt)],
      ['started', when(st.startTime)], ['finished', when(st.completionTime)],
      ['run time', runTime(st)],
      ['last checkpoint', when(st.lastCheckpointTime)],
      ['checkpoint requested', when(st.checkpointRequestedAt)], ['checkpoint deadline', when(st.checkpointDeadline)],
      ['uid', md.uid],
      ['labels', Object.entries(md.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ')]];
    statusCard.replaceChildren(h('h2', {}, 'Status'), h('dl', { class: 'kv', 'data-testid': 'status' },
      kv.map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-key': k }, v === undefined || v === null || v === '' ? '-' : String(v))])));
    specCard.replaceChildren(h('h2', {}, 'Spec'), h('pre', {}, JSON.stringify(job.spec, null, 2)));
  }

  async function renderEvents() {
    const evs = await get(base + '/events', sc);
    timelineCard.replaceChildren(h('h2', {}, 'Timeline'), h('ol', { class: 'timeline', 'data-testid': 'timeline' },
      (evs.items || []).map(ev => h('li', {}, h('div', { class: 'when' }, when(ev.time)),
        h('div', {}, h('b', {}, ev.type), ev.fromPhase && ev.fromPhase !== ev.toPhase
          ? ` ${ev.fromPhase} → ${ev.toPhase}` : '',
          ev.reason && ev.reason !== ev.type ? ` (${ev.reason})` : ''),
        ev.message ? h('div', { class: 'muted' }, ev.message) : null))));
  }

  async function renderExplain() {
    try {
      explainCard.replaceChildren(h('h2', {}, 'Placement explanation'), explainView(await get(base + '/explain', sc)));
    } catch (e) {
      if (e.name === 'AbortError') return;
      explainCard.replaceChildren(h('h2', {}, 'Placement explanation'), h('div', { 'data-testid': 'explain' },
        h('p', { class: 'muted' }, e.status === 404 && /no such path/.test(e.message)
          ? 'this server does not explain placements yet' : 'no explanation: ' + e.message)));
    }
  }

  async function renderAll() {
    const job = await get(base, sc);
    renderJob(job);
    await Promise.all([renderEvents(), renderExplain()]);
  }

  try {
    await renderAll();
  } catch (e) {
    root.append(errorBox(e));
    return;
  }
  /* Long-poll: the server answers when the job changes (or after 30 s), so the page is
   * current within a moment without polling. A server without watch answers at once;
   * then this falls back to plain polling. */
  (async () => {
    let failures = 0;
    while (sc.alive) {
      const t0 = Date.now();
      try {
        if (document.hidden) { await new Promise(r => setTimeout(r, 1000)); continue; }
        const job = await get(`${base}?watch=true&resourceVersion=${rv}&timeoutSeconds=30`, sc);
        failures = 0;
        if (!sc.alive) return;
        if (job.metadata.resourceVersion !== rv) {
          renderJob(job);
          await Promise.all([renderEvents(), renderExplain()]);
        } else if (Date.now() - t0 < 500) {
          await new Promise(r => setTimeout(r, REFRESH_MS));
        } else if (job.status && job.status.phase === 'Queued') {
          /* Unchanged for 30 s: why it waits, its place and its estimate move anyway. */
          await renderExplain();
        }
      } catch (e) {
        if (!sc.alive || e.name === 'AbortError') return;
        live.fail(e);
        failures++;
        await new Promise(r => setTimeout(r, Math.min(30000, 1000 * 2 ** failures)));
      }
    }
  })();
}

/* ---- clusters ---- */

/* The serving pool's demand query (servingPool.demandQuery), when it has one: the figure
 * that counts, what it adds to announced serving demand, and how the last answer went. */
function demandQuery(c, st) {
  const d = st.demandQuery;
  if (!d || typeof d !== 'object') return null;
  const v = (k, text) => h('span', { 'data-k': k }, text);
  return h('p', { class: 'note', 'data-testid': 'demand-query-' + c.name },
    'demand query: ',
    d.figure === null || d.figure === undefined
      ? v('figure', 'no figure counts')
      : ['wants ', v('figure', fmtNum(d.figure, 2)), ` ${d.sku || ''} GPUs in all (as of ${when(d.figureAt)}), adds `,
        v('added', fmtNum(d.addedGpus)), ' to announced serving'],
    ' · last answer ', v('result', d.lastResult || 'none yet'), d.lastAnswerAt ? ` at ${when(d.lastAnswerAt)}` : '',
    d.lastError ? h('span', { class: 'muted', 'data-k': 'error' }, `: ${d.lastError}`) : '');
}

/* The cluster's prerequisite checks (GET /v1/clusters status.conditions, capabilities,
 * prerequisitesCheckedAt): every condition with its status, reason and message. */
function prerequisites(c, st) {
  const conds = Array.isArray(st.conditions) ? st.conditions : [];
  const caps = Array.isArray(st.capabilities) ? st.capabilities : [];
  const rows = conds.map(k => h('tr', { 'data-condition': k.type, class: 'cond-' + k.status },
    h('td', {}, k.type), h('td', {}, badge(k.status, 'cond-' + k.status)), h('td', {}, k.reason || ''),
    h('td', { class: 'wrap' }, k.message || ''), h('td', {}, when(k.lastTransitionTime))));
  return h('div', { 'data-testid': 'prereq-' + c.name },
    h('h2', { style: 'margin-top:12px' }, 'Prerequisites'),
    h('p', { class: 'note' }, h('span', { 'data-testid': 'checked-' + c.name },
      st.prerequisitesCheckedAt ? 'checked ' + when(st.prerequisitesCheckedAt) : 'not checked yet'),
    ' · framework CRDs served: ', h('span', { 'data-testid': 'capabilities-' + c.name },
      caps.length ? caps.join(', ') : 'none')),
    table(['condition', 'status', 'reason', 'message', 'since'], rows,
      { testid: 'conditions-' + c.name, empty: 'no conditions reported' }));
}

/* Serving demand of one pool: the forecast's p50 line inside its p50..p95 band against the
 * actual serving use, over the past 24 h (the capacity report at 15-minute steps: mean
 * serving GPUs and the forecast for each step) and the next 24 h (GET /v1/capacity's
 * forecast). A slot the forecast does not know is a gap, never a zero. */
function forecastChart(past, next, nowMs, label) {
  const W = Math.min(chartWidth(), 900), H = 200, L = 44, R = 10, T = 10, B = 30;
  const pw = W - L - R, ph = H - T - B, t0 = nowMs - 864e5, t1 = nowMs + 864e5;
  const known = v => typeof v === 'number' && Number.isFinite(v);
  const fc = past.concat(next);
  let max = 1;
  for (const p of fc) for (const v of [p.actual, p.p50, p.p95]) if (known(v)) max = Math.max(max, v);
  const axis = axisScale(max * 1.05);
  max = axis.max;
  const x = t => L + pw * (t - t0) / (t1 - t0), y = v => T + ph - ph * v / max;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': label, class: 'chart', 'data-testid': 'forecast-chart',
    /* The scale, for reading a value back from a point (the browser test does). */
    'data-y0': T + ph, 'data-px-per-gpu': ph / max });
  for (let g = 0; g <= 4; g++) {
    const yy = T + ph - ph * g / 4;
    svg.append(s('line', { x1: L, y1: yy, x2: W - R, y2: yy, stroke: '#eaeef2' }),
      s('text', { x: L - 4, y: yy + 4, 'text-anchor': 'end', class: 'tick' }, fmtNum(max * g / 4, axis.digits)));
  }
  /* Runs of consecutive known points: one band polygon and one path piece per run. */
  const runs = (pts, ok) => pts.reduce((acc, p) => {
    if (!ok(p)) acc.push([]);
    else acc[acc.length - 1].push(p);
    return acc;
  }, [[]]).filter(r => r.length);
  const band = runs(fc, p => known(p.p50) && known(p.p95));
  for (const r of band) {
    const pts = r.map(p => `${x(p.t)},${y(p.p95)}`).concat(r.slice().reverse().map(p => `${x(p.t)},${y(p.p50)}`));
    svg.append(s('polygon', { points: pts.join(' '), fill: '#f28e2b', 'fill-opacity': 0.25,
      'data-series': 'p50-p95' }));
  }
  const path = (rs, key, attrs) => {
    const d = rs.map(r => r.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ')).join(' ');
    if (d) svg.append(s('path', Object.assign({ d, fill: 'none', 'data-series': key,
      'data-points': rs.reduce((a, r) => a + r.length, 0) }, attrs)));
  };
  path(band, 'p50', { stroke: '#f28e2b', 'stroke-width': 1.5, 'stroke-dasharray': '4 3' });
  path(runs(past, p => known(p.actual)), 'actual', { stroke: '#1f2328', 'stroke-width': 2 });
  svg.append(s('line', { x1: x(nowMs), y1: T, x2: x(nowMs), y2: T + ph, stroke: '#8c959f' }),
    s('text', { x: x(nowMs) + 3, y: T + 10 }, 'now'));
  for (let k = 0; k <= 8; k++) {
    const t = t0 + (t1 - t0) * k / 8;
    svg.append(s('text', { x: x(t), y: H - B + 16, 'text-anchor': k ? k < 8 ? 'middle' : 'end' : 'start' },
      new Date(t).toISOString().slice(11, 16)));
  }
  const legend = h('div', { class: 'legend' },
    h('span', {}, h('i', { style: 'background:#1f2328;height:3px' }), 'actual serving GPUs'),
    h('span', {}, h('i', { style: 'background:#f28e2b;height:3px' }), 'forecast p50'),
    h('span', {}, h('i', { style: 'background:#f28e2b;opacity:.3' }), 'forecast p50 to p95'));
  return h('div', {}, svg, legend);
}

/* 24 hours before the current quarter hour: the report's steps then fall on the
 * forecast's 15-minute slots. */
function pastFrom() {
  const q = 9e5;
  return new Date(Math.floor(Date.now() / q) * q - 864e5).toISOString();
}

/* Per serving pool of cluster c: the chart and, beside it, what it shows now as text. */
function forecastSection(c, caps, forecasts, report, nowMs) {
  const pools = caps.filter(a => a.pool === 'serving');
  const out = pools.map(a => {
    const fc = forecasts.find(f => f.cluster === c.name && f.sku === a.sku);
    const past = report.filter(r => r.cluster === c.name && r.sku === a.sku && r.pool === 'serving')
      .map(r => ({ t: (Date.parse(r.start) + Date.parse(r.end)) / 2, start: r.start, actual: r.servingGpusMean,
        p50: r.forecastP50, p95: r.forecastP95 }));
    const next = fc ? fc.next24h.map(p => ({ t: Date.parse(p.at), at: p.at, p50: p.p50, p95: p.p95 })) : [];
    const now = fc ? fc.now : { p50: null, p95: null };
    const actual = (a.used || 0) - (a.borrowed || 0);
    const peak = next.reduce((m, p) => (p.p95 !== null && (m === null || p.p95 > m) ? p.p95 : m), null);
    const id = `${c.name}/${a.sku}`;
    return h('div', { class: 'forecast', 'data-testid': 'forecast', 'data-pool': id },
      h('h2', {}, `Serving demand, ${a.sku}: forecast against actual`),
      h('div', { class: 'forecast-row' },
        forecastChart(past, next, nowMs, `serving GPUs of ${id}: actual over the past 24 hours, forecast p50 and p95 over the past and next 24 hours`),
        h('table', { class: 'forecast-now', 'data-testid': 'forecast-now' },
          h('caption', {}, 'now'),
          h('tbody', {},
            h('tr', {}, h('th', {}, 'actual serving GPUs'), h('td', { class: 'num', 'data-k': 'actual' }, fmtNum(actual))),
            h('tr', {}, h('th', {}, 'pending serving GPUs'), h('td', { class: 'num', 'data-k': 'pending' }, fmtNum(a.pendingServing || 0))),
            h('tr', { title: 'replicas HPAs, Deployments and LeaderWorkerSets want whose pods do not exist yet' },
              h('th', {}, 'announced serving GPUs'), h('td', { class: 'num', 'data-k': 'announced' }, fmtNum(a.announcedServing || 0))),
            h('tr', {}, h('th', {}, 'forecast p50'), h('td', { class: 'num', 'data-k': 'p50' }, fmtNum(now.p50, 2))),
            h('tr', {}, h('th', {}, 'forecast p95'), h('td', { class: 'num', 'data-k': 'p95' }, fmtNum(now.p95, 2))),
            h('tr', {}, h('th', {}, 'highest p95, next 24 h'), h('td', { class: 'num', 'data-k': 'peak' }, fmtNum(peak, 2))),
            h('tr', {}, h('th', {}, 'slot'), h('td', {}, fc ? when(fc.now.slotStart) : 'no forecast yet'))))),
      h('details', {}, h('summary', {}, 'values by 15 minutes'),
        table(['time', { label: 'actual serving GPUs (mean)', num: 1 }, { label: 'forecast p50', num: 1 },
          { label: 'forecast p95', num: 1 }],
        past.map(p => ['past', p]).concat(next.map(p => ['next', p])).map(([k, p]) => h('tr', { 'data-k': k },
          h('td', {}, when(k === 'past' ? p.start : p.at)), num(k === 'past' ? p.actual : null, 2),
          num(p.p50, 2), num(p.p95, 2))), { testid: 'forecast-values', empty: 'no samples or forecast yet' })));
  });
  return out.length ? h('div', { class: 'forecasts' }, out) : null;
}

/* The types of the conditions that are False: a missing prerequisite. */
function missingPrerequisites(st) {
  return (Array.isArray(st.conditions) ? st.conditions : []).filter(k => k.status === 'False').map(k => k.type);
}

/* "free / allocatable" of one amount of a node (GET /v1/clusters/{name}/nodes), divided by
 * unit; "-" when the node's allocatable is unknown. */
function amountCell(a, unit, d) {
  if (!a || typeof a !== 'object') return h('td', { class: 'num muted' }, '-');
  return h('td', { class: 'num' }, `${fmtNum(a.free / unit, d)} / ${fmtNum(a.allocatable / unit, d)}`);
}

/* The cluster's GPU nodes as the policy fits jobs to them, read when the section is opened
 * (and again at each refresh while it stays open). */
const NODES_CHUNK = 500;

function nodesSection(c, sc, open) {
  const body = h('div', {});
  const el = h('details', { 'data-testid': 'nodes-' + c.name }, h('summary', {}, 'Nodes'), body);
  async function load() {
    try {
      /* In chunks of NODES_CHUNK, as kubectl reads a large list (limit and continue). */
      const path = `/v1/clusters/${encodeURIComponent(c.name)}/nodes?limit=${NODES_CHUNK}`;
      let list = await get(path, sc);
      const items = list.items || [];
      while (list.metadata && list.metadata.continue) {
        list = await get(`${path}&continue=${encodeURIComponent(list.metadata.continue)}`, sc);
        items.push(...(list.items || []));
      }
      body.replaceChildren(h('p', { class: 'note' },
        `${items.length} GPU nodes as the policy sees them, last polled ${when(list.lastSuccessfulPoll)}`),
      table(['node', 'SKU', 'pool', 'schedulable', { label: 'GPUs free / alloc.', num: 1 },
        { label: 'borrowed', num: 1 }, { label: 'cores free / alloc.', num: 1 },
        { label: 'memory GiB free / alloc.', num: 1 }],
      items.map(n => h('tr', { 'data-node': n.name, class: n.schedulable ? null : 'muted' },
        h('td', {}, n.name), h('td', {}, n.sku || 'unknown'), h('td', {}, n.pool),
        h('td', {}, n.schedulable ? 'yes' : 'no'), amountCell(n.gpus, 1, 0), num(n.gpus && n.gpus.borrowed),
        amountCell(n.cpuMillicores, 1000, 1), amountCell(n.memoryMiB, 1024, 0))),
      { testid: 'nodes-table-' + c.name, empty: 'no GPU nodes reported' }));
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }
  el.addEventListener('toggle', () => {
    if (el.open) { open.add(c.name); load(); } else open.delete(c.name);
  });
  if (open.has(c.name)) el.open = true; /* fires toggle, which loads */
  return el;
}

async function viewClusters(root, sc) {
  const holder = h('div', { 'data-testid': 'clusters' });
  const openNodes = new Set();
  root.append(h('h1', {}, 'Member clusters'), holder);

  async function borrowedJobs() {
    /* Jobs running on lent serving GPUs; the list API has no pool filter, so this reads
     * the live phases (at most 1,000 jobs) and keeps the borrowed ones. */
    const list = await get('/v1/trainingjobs?phase=Admitted,Dispatched,Running,Preempting&limit=1000', sc);
    return (list.items || []).filter(j => j.status && j.status.pool === 'serving-borrowed');
  }

  async function act(name, verb) {
    try {
      await api('POST', `/v1/clusters/${encodeURIComponent(name)}/${verb}`, sc);
      await refresh();
    } catch (e) {
      holder.prepend(errorBox(e.status === 403 || e.status === 401
        ? `only admins may ${verb} clusters: ${e.message}` : e));
    }
  }

  /* The past 24 hours of the serving pools change by one sample a minute
   * (poller.sampleIntervalS), so the report, the heaviest read of the page (a row per
   * serving pool and quarter hour), is asked for at most once a minute, not at each refresh. */
  let past = { at: 0, rep: null };
  async function pastReport() {
    if (past.rep && Date.now() - past.at < 60000) return past.rep;
    const rep = await get(`/v1/reports/capacity?from=${pastFrom()}&to=now&step=15m&pool=serving&format=json`, sc);
    past = { at: Date.now(), rep };
    return rep;
  }

  async function refresh() {
    /* The forecast is an addition: the view still shows when it cannot be read. */
    const [list, borrowed, cap, rep] = await Promise.all([get('/v1/clusters', sc),
      borrowedJobs().catch(() => []), get('/v1/capacity', sc).catch(() => ({})),
      pastReport().catch(() => past.rep || {})]);
    const forecasts = Array.isArray(cap.forecast) ? cap.forecast : [];
    const reportRows = Array.isArray(rep.rows) ? rep.rows : [];
    const nowMs = rep.to ? Date.parse(rep.to) : Date.now();
    const cards = (list.items || []).map(c => {
      const st = c.status || {};
      const caps = st.capacity || [];
      const rows = caps.map(a => {
        /* What lending keeps free (docs/policy.md): lendable = free - reserve - pending - announced. */
        const demand = (a.pendingServing || 0) + (a.announcedServing || 0) + (a.reserve || 0);
        return h('tr', { 'data-sku': a.sku, 'data-pool': a.pool }, h('td', {}, a.sku), h('td', {}, a.pool),
          num(a.total), num(a.used), num(a.free), num(a.unavailable),
          num(a.borrowed), num(servingOnly(a, 'pendingServing')), num(a.announcedServing), num(a.reserve),
          num(a.lendable),
          h('td', {}, a.pool === 'serving' ? h('div', { class: 'bar', 'data-testid': 'demand-bar', title:
            `serving demand: pending ${a.pendingServing || 0} + announced ${a.announcedServing || 0} + reserve ${a.reserve || 0} vs free ${a.free}` },
          h('span', { style: `width:${a.total ? 100 * (a.used - a.borrowed) / a.total : 0}%;background:#f28e2b` }),
          h('span', { style: `width:${a.total ? 100 * a.borrowed / a.total : 0}%;background:#e15759` }),
          h('span', { style: `width:${a.total ? 100 * Math.min(demand, a.free) / a.total : 0}%;background:#ffd8a8` }))
            : ''));
      });
      const mine = borrowed.filter(j => j.status.cluster === c.name);
      const missing = missingPrerequisites(st);
      return h('div', { class: 'card' + (missing.length ? ' flagged' : ''), id: c.name, 'data-cluster': c.name },
        h('div', { class: 'row' }, h('h2', {}, c.name), badge(st.health),
          c.cordoned ? badge('cordoned') : null,
          missing.length ? h('span', { class: 'badge missing', 'data-testid': 'missing-' + c.name,
            title: 'a prerequisite is missing: the policy places no job here that needs it' },
          'missing: ' + missing.join(', ')) : null,
          h('span', { class: 'muted' },
            `data age ${dur(st.dataAgeMs)} · ${st.region || (c.spec && c.spec.region) || ''} ${st.provider || ''}`),
          h('span', { class: 'spacer' }),
          h('button', { class: 'btn small ghost', type: 'button', 'data-testid': 'cordon-' + c.name,
            onclick: () => act(c.name, c.cordoned ? 'uncordon' : 'cordon') }, c.cordoned ? 'Uncordon' : 'Cordon')),
        st.lastError ? h('div', { class: 'error' }, st.lastError) : null,
        table(['SKU', 'pool', { label: 'total', num: 1 }, { label: 'used', num: 1 }, { label: 'free', num: 1 },
          { label: 'unavailable', num: 1, title: UNAVAILABLE_TITLE },
          { label: 'borrowed', num: 1 }, { label: 'pending serving', num: 1 }, { label: 'announced serving', num: 1 },
          { label: 'reserve', num: 1 },
          { label: 'lendable', num: 1 }, 'serving use / borrowed / demand'], rows, { empty: 'no GPU capacity reported' }),
        nodesSection(c, sc, openNodes),
        forecastSection(c, caps, forecasts, reportRows, nowMs),
        demandQuery(c, st),
        prerequisites(c, st),
        h('h2', { style: 'margin-top:12px' }, `Borrowed jobs (${mine.length})`),
        table(['job', { label: 'GPUs', num: 1 }, 'phase', 'lease ends'], mine.map(j => h('tr', {},
          h('td', {}, link(`/ui/jobs/${encodeURIComponent(j.metadata.namespace)}/${encodeURIComponent(j.metadata.name)}`,
            `${j.metadata.namespace}/${j.metadata.name}`)), num(j.spec.resources.gpuCount), h('td', {}, badge(j.status.phase)),
          h('td', {}, when(j.status.leaseEnd || j.status.leaseEndsAt)))), { empty: 'no borrowed jobs' }));
    });
    holder.replaceChildren(...(cards.length ? cards : [h('p', { class: 'muted' }, 'no member clusters registered')]));
    if (location.hash) {
      const el = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (el) el.scrollIntoView();
    }
  }
  try { await refresh(); } catch (e) { holder.replaceChildren(errorBox(e)); }
  sc.every(REFRESH_MS * 2, refresh);
}

/* ---- reports ---- */

async function viewReports(root, sc) {
  const q = new URLSearchParams(location.search);
  const from = h('input', { name: 'from', value: q.get('from') || 'now-24h/h', size: 22 });
  const to = h('input', { name: 'to', value: q.get('to') || 'now', size: 22 });
  const step = h('input', { name: 'step', value: q.get('step') || '1h', size: 6 });
  const cluster = h('input', { name: 'cluster', value: q.get('cluster') || '', size: 14, placeholder: 'all' });
  const sku = h('input', { name: 'sku', value: q.get('sku') || '', size: 10, placeholder: 'all' });
  const pool = h('select', { name: 'pool' }, ...['', 'training', 'serving'].map(v =>
    h('option', { value: v, selected: (q.get('pool') || '') === v }, v || 'all')));
  const out = h('div', { 'data-testid': 'report' });
  const downloads = h('span', { class: 'row' });
  /* The filters go in the query only when set. */
  const query = () => {
    const p = new URLSearchParams({ from: from.value, to: to.value, step: step.value });
    for (const el of [cluster, sku, pool]) if (el.value.trim()) p.set(el.name, el.value.trim());
    return p;
  };
  const form = h('form', { class: 'filters', onsubmit: e => {
    e.preventDefault();
    navigate(`/ui/reports?${query()}`);
  } }, h('label', {}, 'from', from), h('label', {}, 'to', to), h('label', {}, 'step', step),
  h('label', {}, 'cluster', cluster), h('label', {}, 'SKU', sku), h('label', {}, 'pool', pool),
  h('button', { class: 'btn', type: 'submit' }, 'Show'), downloads);
  root.append(h('h1', {}, 'Capacity report'), form,
    h('p', { class: 'note' }, 'Times: RFC 3339, a date (2026-11-28), now, now-24h, today, today-7d; '
      + 'add /h or /d for whole hours or days (now-24h/h), which read faster. Steps: 15m, 1h, 1d. '
      + 'Clusters and SKUs: names separated by commas; empty for all.'), out);

  const params = query();
  downloads.replaceChildren(...['csv', 'html', 'md', 'json'].map(fm =>
    h('a', { href: `/v1/reports/capacity?${params}&format=${fm}`, download: `capacity-report.${fm}` }, fm.toUpperCase())));
  try {
    const rep = await get(`/v1/reports/capacity?${params}&format=json`, sc);
    /* What the filters kept, as the API names them ("cluster c001, c002; pool serving"). */
    const filtered = Object.entries(rep.filters || {}).map(([k, v]) => `${k} ${v.join(', ')}`).join('; ');
    const byCluster = {};
    for (const t of rep.totals) {
      const c = byCluster[t.cluster] || (byCluster[t.cluster] = { used: 0, total: 0 });
      c.used += t.gpuHoursUsed;
      c.total += t.gpuHoursTotal;
    }
    const util = Object.entries(byCluster).filter(([, v]) => v.total > 0).map(([k, v]) =>
      ({ label: k, value: 100 * v.used / v.total, text: fmtNum(100 * v.used / v.total, 1) + '%' }));
    const waits = rep.queueWaitBySku.map(w => ({ label: w.sku, value: w.p50Seconds, second: w.p95Seconds,
      text: `p50 ${dur(w.p50Seconds * 1000)} · p95 ${dur(w.p95Seconds * 1000)}` }));
    out.replaceChildren(
      h('div', { class: 'card' }, h('h2', {}, `${filtered ? `GPU-hours of ${filtered}` : 'Federation GPU-hours'}, ${when(rep.from)} to ${when(rep.to)}`),
        stackedChart(rep.federation, { keys: SERIES, line: BORROWED, label: 'GPU-hours by step',
          daily: rep.stepSeconds >= 86400 })),
      h('div', { class: 'grid' },
        h('div', { class: 'card' }, h('h2', {}, 'Utilisation by cluster'), hbars(util, { max: 100, label: 'utilisation' })),
        h('div', { class: 'card' }, h('h2', {}, 'Queue wait by SKU (p50 bar, p95 line)'), hbars(waits, { label: 'queue wait' }))),
      h('div', { class: 'card' }, h('h2', {}, 'Totals by cluster, SKU and pool'),
        table(['cluster', 'SKU', 'pool', { label: 'GPU-h', num: 1 }, { label: 'training', num: 1 },
          { label: 'serving', num: 1 }, { label: 'borrowed', num: 1 }, { label: 'idle', num: 1 },
          { label: 'of it unavailable', num: 1, title: UNAVAILABLE_TITLE },
          { label: 'util %', num: 1 }, { label: 'placed', num: 1 }, { label: 'succeeded', num: 1 },
          { label: 'failed', num: 1 }, { label: 'preempted', num: 1 }, { label: 'GPU-h lost', num: 1 }],
        rep.totals.map(t => h('tr', {}, h('td', {}, t.cluster), h('td', {}, t.sku), h('td', {}, t.pool),
          num(t.gpuHoursTotal, 1), num(t.gpuHoursTraining, 1), num(t.gpuHoursServing, 1), num(t.gpuHoursBorrowed, 1),
          num(t.gpuHoursIdle, 1), num(t.gpuHoursUnavailable, 1), num(t.utilisationPct, 1), num(t.jobsPlaced),
          num(t.jobsSucceeded),
          num(t.jobsFailed), num(t.jobsPreempted), num(t.gpuHoursLostToReclaim, 2))),
        { testid: 'report-totals', empty: 'no capacity samples or job events in this window' })));
  } catch (e) {
    if (e.name !== 'AbortError') out.replaceChildren(errorBox(e));
  }
}

/* ---- queue ---- */

/* An estimated start as "now", "in 2h" (the time in the tooltip); without one "never" (the
 * item's noEstimate) or "unknown". */
function etaCell(ts, why) {
  if (!ts) return h('td', { 'data-eta': '' }, why === 'never' ? 'never' : 'unknown');
  const ms = Date.parse(ts) - Date.now();
  return h('td', { title: when(ts), 'data-eta': ts }, ms <= 1000 ? 'now' : 'in ' + dur(ms));
}

/* Every queued job in the policy's order, from one what-if (GET /v1/queue); refreshed every
 * 30 s, as the job page's explanation. */
async function viewQueue(root, sc) {
  const q = new URLSearchParams(location.search);
  const f = { ns: q.get('ns') || '', sku: q.get('sku') || '', limit: q.get('limit') || '100' };
  const nsIn = h('input', { name: 'ns', value: f.ns, placeholder: 'all namespaces', size: 14 });
  const skuIn = h('input', { name: 'sku', value: f.sku, placeholder: 'any SKU', size: 12 });
  const limitIn = h('select', { name: 'limit' }, ['25', '100', '500', '1000'].map(v =>
    h('option', { value: v, selected: v === f.limit }, v)));
  const form = h('form', { class: 'filters', onsubmit: e => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (nsIn.value.trim()) p.set('ns', nsIn.value.trim());
    if (skuIn.value.trim()) p.set('sku', skuIn.value.trim());
    if (limitIn.value !== '100') p.set('limit', limitIn.value);
    navigate('/ui/queue' + (p.toString() ? '?' + p : ''));
  } }, h('label', {}, 'namespace', nsIn), h('label', {}, 'SKU', skuIn),
  h('label', {}, 'first', limitIn), h('button', { class: 'btn', type: 'submit' }, 'Show'),
  h('a', { href: '/ui/queue', 'data-nav': true }, 'clear'));
  const holder = h('div', { 'data-testid': 'queue-holder' });
  const note = h('p', { class: 'note', 'data-testid': 'queue-note' });
  root.append(h('h1', {}, 'Queue'), form, h('div', { class: 'card' }, note, holder));

  const params = new URLSearchParams({ limit: f.limit });
  if (f.sku) params.set('sku', f.sku);
  const path = (f.ns ? `/v1/namespaces/${encodeURIComponent(f.ns)}/queue` : '/v1/queue') + '?' + params;
  const load = async () => {
    const v = await get(path, sc);
    const m = v.metadata || {}, basis = v.basis || {};
    holder.replaceChildren(table(['#', 'namespace', 'name', { label: 'priority', num: 1 },
      { label: 'GPUs', num: 1 }, 'SKUs', { label: 'position', num: 1 }, { label: 'jobs ahead', num: 1 },
      { label: 'GPUs ahead', num: 1 }, 'estimated start', 'why it waits'],
    v.items.map(it => {
      const ns = it.metadata.namespace, name = it.metadata.name, pr = it.pendingReason;
      const ahead = it.ahead || {};
      return h('tr', { 'data-job': `${ns}/${name}` }, num(it.order), h('td', {}, ns),
        h('td', {}, link(`/ui/jobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, name)),
        num(it.priority), num(it.gpus), h('td', {}, (it.skus || []).join(', ')), num(it.position),
        num(ahead.jobs), num(ahead.gpus),
        it.order == null ? h('td', { 'data-eta': '' }, '-') : etaCell(it.estimatedStart, it.noEstimate),
        h('td', { class: 'wrap', 'data-reason': pr ? pr.reason : '' },
          pr ? [badge(pr.reason, 'reason'), ' ', h('span', { class: 'muted' }, pr.message || '')] : 'starts now'));
    }), { testid: 'queue-view-table', empty: 'nothing queued' }));
    // total counts the held and backed-off jobs after the queue too; queued does not.
    note.textContent = `${fmtNum(m.total - m.held - m.retryBackoff)} of ${fmtNum(m.queued)} queued jobs selected, ` +
      `${fmtNum(v.items.length)} shown; estimated ${when(m.generatedAt)} from ` +
      `${fmtNum(basis.decisions)} simulated decisions` +
      (basis.capped ? ' (the simulation hit its cap: later jobs have no estimate)' : '') + '.' +
      (m.held || m.retryBackoff ? ` After the queue, not in it: ${fmtNum(m.held)} held, ` +
        `${fmtNum(m.retryBackoff)} waiting out a retry backoff.` : '');
  };
  await load();
  sc.every(30000, load);
}

/* ---- routing ---- */

const routes = [
  [/^\/ui\/?$/, 'overview', viewOverview],
  [/^\/ui\/jobs\/?$/, 'jobs', viewJobs],
  [/^\/ui\/jobs\/([^/]+)\/([^/]+)\/?$/, 'jobs', viewJob],
  [/^\/ui\/queue\/?$/, 'queue', viewQueue],
  [/^\/ui\/clusters\/?$/, 'clusters', viewClusters],
  [/^\/ui\/reports\/?$/, 'reports', viewReports],
];

async function render() {
  const root = document.getElementById('app');
  const sc = newScope();
  root.replaceChildren();
  document.body.dataset.ready = '';
  for (const [re, name, fn] of routes) {
    const m = location.pathname.match(re);
    if (!m) continue;
    document.querySelectorAll('nav a').forEach(a => a.classList.toggle('active', a.dataset.view === name));
    document.title = `fedsched · ${name}`;
    try {
      await fn(root, sc, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (e.name !== 'AbortError') root.append(errorBox(e));
    }
    /* Tests wait for this: the view's first data is on the page. */
    if (scope === sc) document.body.dataset.ready = name;
    return;
  }
  root.append(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', link('/ui/', 'Overview')));
  document.body.dataset.ready = 'notfound';
}

function navigate(href) {
  history.pushState(null, '', href);
  render();
}

document.addEventListener('click', e => {
  const a = e.target.closest && e.target.closest('a[data-nav]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    location.hash = url.hash;
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', render);
document.addEventListener('visibilitychange', () => { if (!document.hidden) live.ok(); });

document.addEventListener('DOMContentLoaded', () => {
  live.el = document.getElementById('live');
  const box = document.getElementById('token-box'), input = document.getElementById('token-input');
  document.getElementById('token-btn').addEventListener('click', () => { box.hidden = !box.hidden; });
  document.getElementById('token-save').addEventListener('click', () => {
    try { localStorage.setItem('fedsched.token', input.value.trim()); } catch (e) { /* private mode */ }
    box.hidden = true;
    render();
  });
  document.getElementById('token-clear').addEventListener('click', () => {
    try { localStorage.removeItem('fedsched.token'); } catch (e) { /* private mode */ }
    input.value = '';
    render();
  });
  render();
});
