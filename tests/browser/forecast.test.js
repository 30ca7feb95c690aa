// forecast.test.js -- the clusters view's serving-demand chart (forecast against actual,
// issue 17 acceptance 5) in real headless Chromium, against a running fedsched with
// simulated clusters and eight days of seeded serving samples. Started by
// tests/integration/test_browser_forecast.c, which checks the summary line this prints
// last: {"passed":N,"failed":N,"checks":[...]}. Env: FEDSCHED_UI_BASE, FORECAST_CLUSTER,
// FORECAST_SKU, SCREENSHOT_DIR, CHROMIUM (optional), ANNOUNCED_POOL (cluster/sku of a
// serving pool whose autoscaler wants more replicas than exist) and ANNOUNCED_GPUS (what
// the API must say it announces).
// Every number the page prints is compared with the API's answer for the same question:
// now (GET /v1/clusters for the actual, GET /v1/capacity for p50 and p95), the past 24 h
// (GET /v1/reports/capacity by 15 minutes) and the next 24 h (GET /v1/capacity).
'use strict';

const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const base = process.env.FEDSCHED_UI_BASE;
const cluster = process.env.FORECAST_CLUSTER || 'sim-west';
const sku = process.env.FORECAST_SKU || 'l4';
const pool = `${cluster}/${sku}`;
const announcedPool = process.env.ANNOUNCED_POOL || 'sim-onprem/l4';
const announcedWant = Number(process.env.ANNOUNCED_GPUS || 6);
const shots = process.env.SCREENSHOT_DIR || path.resolve(__dirname, '../../build/screenshots');
const checks = [];
const pageErrors = [];

function check(name, ok, detail) {
  checks.push({ name, ok: !!ok, detail: ok ? undefined : String(detail || '') });
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ': ' + detail}\n`);
}

// A number as the dashboard prints it (fmtNum() in app.js): '-' when there is none.
function fmt(v, d) {
  if (v === undefined || v === null || v === '') return '-';
  const n = Number(v);
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}
const whenText = ts => ts ? new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';

async function apiGet(page, p) {
  return page.evaluate(async u => (await fetch(u, { cache: 'no-store' })).json(), p);
}

// What the page shows for the pool: the "now" table and the values table.
async function shown(page) {
  return page.$eval(`[data-testid=forecast][data-pool="${pool}"]`, el => ({
    now: Object.fromEntries(Array.from(el.querySelectorAll('[data-testid=forecast-now] td[data-k]'))
      .map(td => [td.dataset.k, td.textContent])),
    past: Array.from(el.querySelectorAll('[data-testid=forecast-values] tr[data-k=past]'))
      .map(r => Array.from(r.cells).map(c => c.textContent)),
    next: Array.from(el.querySelectorAll('[data-testid=forecast-values] tr[data-k=next]'))
      .map(r => Array.from(r.cells).map(c => c.textContent)),
    text: el.innerText,
  }));
}

// What the page must show according to the API, asked now.
async function wanted(page) {
  const q = 9e5;
  const from = new Date(Math.floor(Date.now() / q) * q - 864e5).toISOString();
  const [clusters, cap, rep] = await Promise.all([apiGet(page, '/v1/clusters'),
    apiGet(page, '/v1/capacity'),
    apiGet(page, `/v1/reports/capacity?from=${from}&to=now&step=15m&format=json`)]);
  const c = clusters.items.find(x => x.name === cluster);
  const a = c.status.capacity.find(x => x.sku === sku && x.pool === 'serving');
  const fc = cap.forecast.find(f => f.cluster === cluster && f.sku === sku);
  return {
    now: { actual: fmt(a.used - a.borrowed, 0), p50: fmt(fc.now.p50, 2), p95: fmt(fc.now.p95, 2) },
    past: rep.rows.filter(r => r.cluster === cluster && r.sku === sku && r.pool === 'serving')
      .map(r => [whenText(r.start), fmt(r.servingGpusMean, 2), fmt(r.forecastP50, 2), fmt(r.forecastP95, 2)]),
    next: fc.next24h.map(p => [whenText(p.at), '-', fmt(p.p50, 2), fmt(p.p95, 2)]),
  };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// The last past step is the current, partial one: its mean and its slot's forecast move
// with every sample, so it is left out of the comparison.
const settled = rows => rows.slice(0, -1);

async function main() {
  if (!base) throw new Error('FEDSCHED_UI_BASE is not set');
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await ctx.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));

  // The poller needs a round before the cluster shows; the forecast must know the slot.
  let got = null, want = null;
  for (let attempt = 0; attempt < 6; attempt++) {
    await page.goto(`${base}/ui/clusters`);
    await page.waitForSelector(`[data-testid=forecast][data-pool="${pool}"]`, { timeout: 30000 });
    got = await shown(page);
    want = await wanted(page);
    // The page and the API were asked a moment apart: the live actual may have moved.
    if (same(got.now, want.now) && same(settled(got.past), settled(want.past)) && same(got.next, want.next)) break;
    await page.waitForTimeout(1500);
  }
  check('the forecast for now is known (the seeded samples were learned)',
    got.now.p50 !== '-' && got.now.p95 !== '-', JSON.stringify(got.now));
  check('now: the actual serving GPUs equal GET /v1/clusters (used - borrowed)',
    got.now.actual === want.now.actual, JSON.stringify({ shown: got.now, api: want.now }));
  check('now: p50 equals GET /v1/capacity forecast now.p50', got.now.p50 === want.now.p50,
    JSON.stringify({ shown: got.now, api: want.now }));
  check('now: p95 equals GET /v1/capacity forecast now.p95', got.now.p95 === want.now.p95,
    JSON.stringify({ shown: got.now, api: want.now }));
  check('past 24 h: actual, p50 and p95 by 15 minutes equal GET /v1/reports/capacity',
    want.past.length >= 95 && same(settled(got.past), settled(want.past)),
    JSON.stringify({ rows: want.past.length, shown: got.past.slice(0, 3), api: want.past.slice(0, 3) }));
  check('next 24 h: p50 and p95 by 15 minutes equal GET /v1/capacity next24h',
    want.next.length === 96 && same(got.next, want.next),
    JSON.stringify({ shown: got.next.slice(0, 3), api: want.next.slice(0, 3) }));
  check('the section shows no NaN, null, undefined or Invalid Date',
    !/\b(NaN|null|undefined)\b|Invalid Date/.test(got.text), got.text.slice(0, 400));

  // The chart: the actual path over the past steps, the p50 path over past and next, the
  // band; as many points in each path's d as its data-points says, all of them numbers.
  const chart = await page.$eval(`[data-testid=forecast][data-pool="${pool}"] svg[data-testid=forecast-chart]`, svg => {
    const y0 = Number(svg.dataset.y0), scale = Number(svg.dataset.pxPerGpu);
    const one = k => {
      const p = svg.querySelector(`path[data-series=${k}]`);
      if (!p) return null;
      const d = p.getAttribute('d');
      const pts = (d.match(/[ML]/g) || []).length;
      const nums = d.split(/[ML, ]+/).filter(Boolean).map(Number);
      // Each point's y read back as GPUs through the chart's scale.
      const values = nums.filter((v, i) => i % 2 === 1).map(y => (y0 - y) / scale);
      return { pts, finite: nums.every(Number.isFinite), n: nums.length, values, tol: 0.06 / scale + 0.001 };
    };
    return { actual: one('actual'), p50: one('p50'), bands: svg.querySelectorAll('polygon[data-series="p50-p95"]').length };
  });
  // A drawn value equals the API's (as the table prints it, 2 decimals) within the
  // chart's pixel rounding; the last past step is left out as above.
  const near = (drawn, api, tol) => drawn.length === api.length &&
    drawn.every((v, i) => Math.abs(v - Number(api[i].replace(/,/g, ''))) <= tol + 0.005);
  const pastActual = want.past.filter(r => r[1] !== '-').map(r => r[1]);
  check('the chart draws the actual as a path with a point per past step, at the API\'s values',
    chart.actual && chart.actual.finite && chart.actual.pts === pastActual.length &&
      chart.actual.n === 2 * pastActual.length && pastActual.length >= 95 &&
      near(settled(chart.actual.values), settled(pastActual), chart.actual.tol),
    JSON.stringify({ drawn: chart.actual && chart.actual.values.slice(0, 4), api: pastActual.slice(0, 4) }));
  const knownRows = want.past.concat(want.next).filter(r => r[2] !== '-' && r[3] !== '-');
  const p50s = knownRows.map(r => r[2]);
  // The past's last step is the current slot: its p50 may have moved (see settled()).
  const lastPast = want.past.filter(r => r[2] !== '-' && r[3] !== '-').length - 1;
  const skip = (a, i) => a.filter((v, k) => k !== i);
  check('the chart draws p50 as a path with a point per known step, at the API\'s values, and the p50..p95 band',
    chart.p50 && chart.p50.finite && chart.p50.pts === p50s.length && chart.bands >= 1 &&
      near(skip(chart.p50.values, lastPast), skip(p50s, lastPast), chart.p50.tol),
    JSON.stringify({ drawn: chart.p50 && chart.p50.values.slice(0, 4), api: p50s.slice(0, 4), bands: chart.bands }));

  const el = await page.$(`[data-testid=forecast][data-pool="${pool}"]`);
  await el.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'forecast.png'), fullPage: false });

  // Announced serving demand (issue 17): a pool whose HPA wants more replicas than its
  // Deployment has shows the API's announcedServing in its "now" table, and its demand bar
  // reads pending + announced + reserve vs free, as lendable is computed (docs/policy.md).
  const [aCluster, aSku] = announcedPool.split('/');
  let aShown = null, aWant = null;
  for (let attempt = 0; attempt < 6; attempt++) {
    await page.goto(`${base}/ui/clusters`);
    await page.waitForSelector(`[data-testid=forecast][data-pool="${announcedPool}"]`, { timeout: 30000 });
    aShown = await page.evaluate(([c, k, id]) => {
      const sec = document.querySelector(`[data-testid=forecast][data-pool="${id}"]`);
      const row = document.querySelector(`[data-cluster="${c}"] tr[data-sku="${k}"][data-pool=serving]`);
      const cell = key => sec.querySelector(`[data-testid=forecast-now] td[data-k=${key}]`).textContent;
      const bar = row && row.querySelector('[data-testid=demand-bar]');
      return { announced: cell('announced'), pending: cell('pending'), bar: bar ? bar.getAttribute('title') : null };
    }, [aCluster, aSku, announcedPool]);
    const l = await apiGet(page, '/v1/clusters');
    const a = l.items.find(x => x.name === aCluster).status.capacity.find(x => x.sku === aSku && x.pool === 'serving');
    aWant = { api: a.announcedServing, announced: fmt(a.announcedServing, 0), pending: fmt(a.pendingServing, 0),
      bar: `serving demand: pending ${a.pendingServing} + announced ${a.announcedServing} + reserve ${a.reserve} vs free ${a.free}` };
    if (aShown.announced === aWant.announced && aShown.pending === aWant.pending && aShown.bar === aWant.bar) break;
    await page.waitForTimeout(1500);
  }
  check(`announced: GET /v1/clusters says ${announcedPool} announces ${announcedWant} GPUs`,
    aWant.api === announcedWant, JSON.stringify(aWant));
  check('announced: the pool\'s "now" table shows GET /v1/clusters announcedServing and pendingServing',
    aShown.announced === aWant.announced && aShown.pending === aWant.pending,
    JSON.stringify({ shown: aShown, api: aWant }));
  check('announced: the demand bar reads pending + announced + reserve vs free, as the API has them',
    aShown.bar === aWant.bar, JSON.stringify({ shown: aShown.bar, api: aWant.bar }));

  // The pool's demand query (servingPool.demandQuery): the line under the cluster's table.
  const dqShown = await page.evaluate(c => {
    const el = document.querySelector(`[data-testid="demand-query-${c}"]`);
    return el ? Object.fromEntries(Array.from(el.querySelectorAll('[data-k]')).map(x => [x.dataset.k, x.textContent])) : null;
  }, aCluster);
  const dqApi = (await apiGet(page, `/v1/clusters/${aCluster}`)).status.demandQuery;
  check('demand query: the line shows GET /v1/clusters demandQuery figure, addedGpus and lastResult',
    dqShown && dqApi && dqApi.addedGpus > 0 && dqShown.figure === fmt(dqApi.figure, 2) &&
      dqShown.added === fmt(dqApi.addedGpus, 0) && dqShown.result === dqApi.lastResult,
    JSON.stringify({ shown: dqShown, api: dqApi }));

  // The overview's capacity table: the announced column equals GET /v1/capacity's totals.
  await page.goto(`${base}/ui/`);
  await page.waitForSelector('[data-testid=capacity-table] tbody tr td.num', { timeout: 30000 });
  const ov = await page.evaluate(() => {
    const t = document.querySelector('[data-testid=capacity-table]');
    const col = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent === 'announced serving');
    return { col, rows: Array.from(t.tBodies[0].rows).map(r => ({ sku: r.cells[0].textContent,
      pool: r.cells[1].textContent, announced: col >= 0 ? r.cells[col].textContent : null })) };
  });
  const cap = await apiGet(page, '/v1/capacity');
  const capWant = cap.capacity.map(c => ({ sku: c.sku, pool: c.pool, announced: fmt(c.announcedServing, 0) }));
  const capRow = cap.capacity.find(c => c.sku === aSku && c.pool === 'serving');
  check('overview: the capacity table\'s announced serving column equals GET /v1/capacity announcedServing',
    ov.col >= 0 && same(ov.rows, capWant) && capRow && capRow.announcedServing >= announcedWant,
    JSON.stringify({ shown: ov, api: capWant }));
  check('no JavaScript errors', pageErrors.length === 0, pageErrors.join(' | '));
  await browser.close();
}

main().catch(e => check('run', false, e && e.stack || e)).finally(() => {
  const failed = checks.filter(c => !c.ok).length;
  process.stdout.write(JSON.stringify({ passed: checks.length - failed, failed, screenshots: shots, checks }) + '\n');
  process.exit(failed ? 1 : 0);
});
