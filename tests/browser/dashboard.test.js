// dashboard.test.js -- drives the fedsched dashboard in real headless Chromium (Debian's
// chromium, through playwright-core) against a running fedsched with seeded jobs and
// simulated clusters. Started by tests/integration/test_browser.c, which seeds the data
// and checks the summary line this prints last: {"passed":N,"failed":N,"checks":[...]}.
// Env: FEDSCHED_UI_BASE (http://127.0.0.1:PORT), SCREENSHOT_DIR, CHROMIUM (optional).
// What the page shows is compared with what the API answers for the same question (the
// explanation panel with GET .../explain, each page of the jobs table with the API's page),
// never with "some text": a check must fail when the dashboard renders the wrong thing.
'use strict';

const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const base = process.env.FEDSCHED_UI_BASE;
const shots = process.env.SCREENSHOT_DIR || path.resolve(__dirname, '../../build/screenshots');
const checks = [];
const pageErrors = [];
// Every request of every browser context, by context: the offline check covers them all.
const watched = [];

// Opens a browser context whose every page (popups included) is watched for requests and
// script errors. The browser logs every 4xx fetch as a console error; the bad-filter step
// causes one on purpose, so only script errors count.
async function watchedContext(browser, label) {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const w = { label, ctx, requests: [] };
  watched.push(w);
  ctx.on('request', r => w.requests.push(r.url()));
  ctx.on('page', p => {
    p.on('pageerror', e => pageErrors.push(`${label}: ${e.message}`));
    p.on('console', m => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`${label}: ${m.text()}`);
    });
  });
  return ctx;
}

// The explanation panel as text, one entry per paragraph, table row and list item, each
// with its whitespace collapsed; compared whole with what the API's answer says.
async function explainPanel(page) {
  return page.$eval('[data-testid=explain]', el => {
    const norm = t => t.replace(/\s+/g, ' ').trim();
    const own = li => norm(Array.from(li.childNodes).filter(n => n.nodeName !== 'UL')
      .map(n => n.textContent).join(''));
    return {
      paragraphs: Array.from(el.querySelectorAll(':scope > p')).map(p => norm(p.textContent)),
      terms: Object.fromEntries(Array.from(el.querySelectorAll('tr[data-term]'))
        .map(r => [r.dataset.term, norm(r.cells[1].textContent)])),
      headings: Array.from(el.querySelectorAll('h2')).map(x => norm(x.textContent)),
      // Top-level list items (quota reasons, clusters), each with the items nested in it.
      lists: Array.from(el.querySelectorAll(':scope > ul, :scope > div > ul')).map(ul =>
        Array.from(ul.children).map(li => ({
          text: own(li),
          items: Array.from(li.querySelectorAll(':scope > ul > li')).map(x => norm(x.textContent)),
        }))),
    };
  });
}

const fmt3 = v => Number(v).toLocaleString('en-US', { maximumFractionDigits: 3, minimumFractionDigits: 3 });

// One reason of the API's pending answer as the panel must print it.
function reasonLine(w) {
  const where = [w.cluster, w.sku, w.pool].filter(Boolean).join(' ');
  return `${w.reason || '-'}${where ? ` [${where}]` : ''}: ${w.message || ''}`.replace(/\s+/g, ' ').trim();
}

// The names of the jobs on one page of the API's list, as the table's data-job keys.
async function apiPageNames(page, path) {
  const list = await apiGet(page, path);
  return { names: list.items.map(j => `${j.metadata.namespace}/${j.metadata.name}`),
    next: list.metadata && list.metadata.continue };
}

const jobKeys = page => page.$$eval('[data-testid=jobs-table] tbody tr[data-job]', r => r.map(x => x.dataset.job));
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
// A time as the dashboard prints it (when() in app.js).
const whenText = ts => ts ? new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';

// What the clusters view shows of each cluster's prerequisites, and what it must show
// according to GET /v1/clusters: every condition's type, status, reason, message and
// time, the capabilities, the check time, and the flag naming the False conditions.
async function prereqShown(page) {
  return page.$$eval('[data-cluster]', cards => cards.map(card => {
    const one = sel => { const el = card.querySelector(sel); return el ? el.textContent : null; };
    return {
      name: card.dataset.cluster,
      rows: Array.from(card.querySelectorAll('[data-testid^="conditions-"] tbody tr'))
        .map(r => Array.from(r.cells).map(c => c.textContent)),
      capabilities: one('[data-testid^="capabilities-"]'),
      checked: one('[data-testid^="checked-"]'),
      missing: one('[data-testid^="missing-"]'),
      flagged: card.classList.contains('flagged'),
    };
  }));
}

function prereqWanted(list) {
  return list.items.map(c => {
    const st = c.status || {};
    const falses = st.conditions.filter(k => k.status === 'False').map(k => k.type);
    return {
      name: c.name,
      rows: st.conditions.map(k => [k.type, k.status, k.reason, k.message, whenText(k.lastTransitionTime)]),
      capabilities: st.capabilities.length ? st.capabilities.join(', ') : 'none',
      checked: st.prerequisitesCheckedAt ? 'checked ' + whenText(st.prerequisitesCheckedAt) : 'not checked yet',
      missing: falses.length ? 'missing: ' + falses.join(', ') : null,
      flagged: falses.length > 0,
    };
  });
}

function check(name, ok, detail) {
  checks.push({ name, ok: !!ok, detail: ok ? undefined : String(detail || '') });
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ': ' + detail}\n`);
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e);
  }
}

async function ready(page, view) {
  await page.waitForSelector(`body[data-ready="${view}"]`, { timeout: 15000 });
}

// No view may show a value it failed to render: NaN, null, undefined or Invalid Date
// anywhere in the page's text.
async function noBadValues(page, view) {
  const text = await page.evaluate(() => document.querySelector('main').innerText);
  const bad = text.match(/\b(NaN|null|undefined)\b|Invalid Date/g);
  check(`${view}: no NaN, null, undefined or Invalid Date`, !bad, bad && bad.join(',') + ' in ' + text.slice(0, 400));
}

async function apiGet(page, path) {
  return page.evaluate(async p => (await fetch(p)).json(), path);
}

async function shot(page, name) {
  const file = path.join(shots, name);
  await page.screenshot({ path: file, fullPage: true });
  check(`screenshot ${name}`, fs.statSync(file).size > 5000, 'screenshot too small');
  return file;
}

async function main() {
  if (!base) throw new Error('FEDSCHED_UI_BASE is not set');
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // No background traffic: the machine's network is closed, and Chromium would keep
    // trying to reach its update and sync services.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync'],
  });
  const main = await watchedContext(browser, 'anonymous');
  const page = await main.newPage();

  await step('overview', async () => {
    await page.goto(`${base}/ui/`);
    await ready(page, 'overview');
    await noBadValues(page, 'overview');
    // The capacity poller needs a round or two before the simulated clusters show.
    await page.waitForFunction(() => {
      const cells = document.querySelectorAll('[data-testid=capacity-table] td.num');
      const glance = document.querySelectorAll('[data-testid=clusters-glance] tbody tr .badge');
      const bars = document.querySelectorAll('svg.chart rect');
      return cells.length > 0 && glance.length >= 3 && bars.length > 0;
    }, null, { timeout: 30000 });
    const skus = await page.$$eval('[data-testid=capacity-table] tbody tr td:first-child', t => t.map(x => x.textContent));
    check('overview lists GPUs by SKU', skus.includes('h100-80gb') && skus.includes('l4'), skus.join(','));
    // The capacity table, cell by cell, is GET /v1/capacity; the scenario's NotReady and
    // cordoned nodes show as unavailable GPUs (a100-80gb: sim-east's a100-0, 8 GPUs).
    {
      const cx = await apiGet(page, '/v1/capacity');
      const shown = await page.$$eval('[data-testid=capacity-table] tbody tr', r => r.map(x =>
        [...x.querySelectorAll('td')].map(td => td.textContent)));
      const heads = await page.$$eval('[data-testid=capacity-table] thead th', t => t.map(x => x.textContent));
      // Used and free move as the scheduler places the seeded jobs; the nodes do not.
      const stable = r => [r[0], r[1], r[2], r[5]];
      const want = cx.capacity.map(c => stable([c.sku, c.pool, String(c.total), 0, 0, String(c.unavailable)]));
      const a80 = cx.capacity.find(c => c.sku === 'a100-80gb' && c.pool === 'training');
      const adds = shown.every(r => Number(r[2]) === Number(r[3]) + Number(r[4]) + Number(r[5]));
      check('overview\'s capacity table is GET /v1/capacity, unavailable GPUs included',
        heads[5] === 'unavailable' && a80 && a80.unavailable === 8 && adds &&
        JSON.stringify(shown.map(stable)) === JSON.stringify(want),
        JSON.stringify({ heads, shown, want }));
      // Clusters at a glance: each cluster's GPUs and unavailable GPUs are the sums of its
      // status.capacity; the row adds up.
      const cl = await apiGet(page, '/v1/clusters');
      const glance = await page.$$eval('[data-testid=clusters-glance] tbody tr', r => r.map(x =>
        [...x.querySelectorAll('td')].map(td => td.textContent)));
      const sum = (c, k) => ((c.status && c.status.capacity) || []).reduce((a, x) => a + (x[k] || 0), 0);
      const gwant = cl.items.map(c => [c.name, String(sum(c, 'total')), String(sum(c, 'unavailable'))]);
      const gshown = glance.map(r => [r[0], r[3], r[6]]);
      check('clusters at a glance: GPUs and unavailable GPUs per cluster are the API\'s',
        JSON.stringify(gshown) === JSON.stringify(gwant) && gwant.every(r => Number(r[2]) > 0) &&
        glance.every(r => Number(r[3]) === Number(r[4]) + Number(r[5]) + Number(r[6])),
        JSON.stringify({ shown: glance, want: gwant }));
    }
    const queue = await page.$$eval('[data-testid=queue-table] tbody tr', r => r.map(x => x.textContent));
    check('overview shows queue depth by SKU', queue.some(t => t.startsWith('a100-80gb')), queue.join('|'));
    check('overview draws the capacity chart', await page.$('svg.chart rect') !== null, 'no bars');
    // Its y axis: 0 and four equal steps of 1, 2, 2.5, 4 or 5 times a power of ten.
    {
      const ticks = await page.$$eval('svg.chart text.tick', t => t.map(x => x.textContent));
      const v = ticks.slice(0, 5).map(x => Number(x.replace(/,/g, '')));
      const step = v[1], mant = step / 10 ** Math.floor(Math.log10(step));
      check('overview chart\'s y axis has round steps', v.length === 5 && v[0] === 0 && step > 0 &&
        v.every((x, i) => Math.abs(x - i * step) < step * 1e-9) &&
        [1, 2, 2.5, 4, 5].some(m => Math.abs(mant - m) < 1e-9), JSON.stringify(ticks));
    }
    // The quota table, row by row and cell by cell, is GET /v1/quotas (research's V100s).
    await page.waitForSelector('[data-testid=quota-table] tr[data-quota]', { timeout: 15000 });
    const qx = await apiGet(page, '/v1/quotas');
    const qshown = await page.$$eval('[data-testid=quota-table] tbody tr', r => r.map(x =>
      [...x.querySelectorAll('td')].map(td => td.textContent)));
    const lim = v => v === null ? 'unlimited' : String(v);
    const qwant = qx.items.map(i => [i.namespace + (i.configured ? '' : ' (no quota row)'), i.sku,
      String(i.nominal), String(i.usedGpus), String(i.borrowedGpus), String(i.queuedJobs),
      String(i.queuedGpus), lim(i.borrowingLimit), lim(i.lendingLimit)]);
    const research = qx.items.find(i => i.namespace === 'research' && i.sku === 'v100-32gb');
    check('overview\'s quota table is GET /v1/quotas', research && research.nominal === 8 &&
      research.usedGpus === 8 && JSON.stringify(qshown) === JSON.stringify(qwant),
      JSON.stringify({ shown: qshown, want: qwant }));
    const cohort = await page.textContent('[data-testid=quota-cohorts]');
    const cwant = 'cohorts: ' + qx.cohorts.map(c => `${c.sku}: ${c.availableGpus} of ${c.lendableGpus}` +
      ' lendable GPUs left to borrow').join(' · ');
    check('overview\'s quota cohorts are the API\'s', qx.cohorts.length === 1 && cohort === cwant,
      JSON.stringify({ shown: cohort, want: cwant }));
    await shot(page, 'overview.png');
  });

  await step('jobs table', async () => {
    await page.goto(`${base}/ui/jobs`);
    await ready(page, 'jobs');
    await noBadValues(page, 'jobs');
    // Page 1 and page 2 of the table are the API's first two pages of 50, newest first.
    const api1 = await apiPageNames(page, '/v1/trainingjobs?limit=50&order=newest');
    const api2 = await apiPageNames(page, `/v1/trainingjobs?limit=50&order=newest&continue=${encodeURIComponent(api1.next)}`);
    const oldest = await apiPageNames(page, '/v1/trainingjobs?limit=50');
    const page1 = await jobKeys(page);
    check('jobs table shows the API\'s first page of 50', page1.length === 50 && same(page1, api1.names),
      JSON.stringify({ shown: page1, api: api1.names }));
    await page.click('[data-testid=next-page]');
    await page.waitForFunction(() => /page 2/.test(document.querySelector('.pager').textContent));
    const page2 = await jobKeys(page);
    check('next page shows the API\'s second page', api2.names.length === 50 && same(page2, api2.names),
      JSON.stringify({ shown: page2, api: api2.names }));
    const both = page2.filter(k => page1.includes(k));
    check('no job on both page 1 and page 2', page2.length > 0 && both.length === 0, both.join(','));
    // Oldest first, as chosen in the form: the API's creation order, another first page.
    await page.selectOption('form.filters select[name=order]', 'oldest');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/order=oldest/);
    await ready(page, 'jobs');
    const pageOld = await jobKeys(page);
    check('oldest first shows the API\'s first page in creation order',
      pageOld.length === 50 && same(pageOld, oldest.names) && !same(pageOld, page1),
      JSON.stringify({ shown: pageOld, api: oldest.names }));
    await page.goto(`${base}/ui/jobs`);
    await ready(page, 'jobs');

    // Filter: phase Running and SKU h100-80gb, through the form.
    await page.selectOption('form.filters select[name=phase]', 'Running');
    await page.fill('form.filters input[name=sku]', 'h100-80gb');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/phase=Running/);
    await ready(page, 'jobs');
    const phases = await page.$$eval('[data-testid=jobs-table] tbody tr[data-job] .badge', b => b.map(x => x.textContent));
    const skus = await page.$$eval('[data-testid=jobs-table] tbody tr[data-job] td:nth-child(4)', b => b.map(x => x.textContent));
    check('phase filter keeps only Running jobs', phases.length > 0 && phases.every(p => p === 'Running'), phases.join(','));
    check('SKU filter keeps only h100-80gb', skus.length > 0 && skus.every(s => s === 'h100-80gb'), skus.join(','));
    await shot(page, 'jobs-filtered.png');

    // A bad filter shows the API's message, naming the field.
    await page.goto(`${base}/ui/jobs?sku=nope`);
    await ready(page, 'jobs');
    const err = await page.textContent('.error');
    check('a bad filter shows the API error', /sku/.test(err) && /unknown sku/.test(err), err);
  });

  await step('live update', async () => {
    await page.goto(`${base}/ui/jobs?ns=ml&limit=200`);
    await ready(page, 'jobs');
    const sel = '[data-job="ml/live-target"] .badge';
    check('live target listed as Queued', (await page.textContent(sel)) === 'Queued', await page.textContent(sel));
    // Change it behind the page's back; the page must notice by itself.
    const st = await page.evaluate(async () => (await fetch('/v1/namespaces/ml/trainingjobs/live-target', { method: 'DELETE' })).status);
    check('cancel through the API', st === 200, st);
    await page.waitForFunction(s => { const b = document.querySelector(s); return b && b.textContent === 'Cancelled'; }, sel, { timeout: 12000 });
    check('jobs table updates itself', true);
  });

  // Acceptance 6 of issue 16: the jobs list follows the list's watch stream. A job
  // submitted through the API shows on the open page within 1 s, with the API's name and
  // phase, and the page sends no request for the list once its stream is open: no poll.
  await step('stream', async () => {
    const seen = [];
    const onRequest = r => seen.push({ url: r.url(), method: r.method(), at: Date.now() });
    page.on('request', onRequest);
    try {
      const watching = page.waitForResponse(r => r.url().includes('/v1/namespaces/stream/trainingjobs?') &&
        r.url().includes('watch=true'), { timeout: 15000 });
      await page.goto(`${base}/ui/jobs?ns=stream`);
      await ready(page, 'jobs');
      const opened = await watching;
      check('the list\'s watch answers 200', opened.status() === 200, opened.status());
      const openedAt = Date.now();
      check('the empty list says so', /no jobs match/.test(await page.textContent('[data-testid=jobs-table]')),
        await page.textContent('[data-testid=jobs-table]'));

      // 1,024 GPUs fit in no simulated cluster: the job stays Queued.
      const spec = { apiVersion: 'fedsched.io/v1', kind: 'TrainingJob', metadata: { name: 'streamed-1' },
        spec: { framework: 'pytorch', resources: { instanceType: 'a100-80gb', gpuCount: 1024 },
          code: { image: 'trainer:1', command: ['python', 'train.py'] } } };
      const post = await fetch(`${base}/v1/namespaces/stream/trainingjobs`, { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(spec) });
      const submittedAt = Date.now();
      check('submit through the API', post.status === 201, post.status);
      const sel = '[data-job="stream/streamed-1"]';
      let appeared = null;
      try {
        await page.waitForSelector(sel, { timeout: 1000 });
        appeared = Date.now() - submittedAt;
      } catch (e) {
        appeared = null;
      }
      process.stderr.write(`stream: the submitted job showed ${appeared} ms after the API's 201\n`);
      check('the submitted job appears without a reload within 1 s', appeared !== null && appeared <= 1000, appeared);
      const job = await (await fetch(`${base}/v1/namespaces/stream/trainingjobs/streamed-1`)).json();
      const row = await page.$$eval(`${sel} td`, t => t.map(x => x.textContent));
      check('its row shows the API\'s namespace, name and phase', job.status.phase === 'Queued' &&
        same(row.slice(0, 3), [job.metadata.namespace, job.metadata.name, job.status.phase]),
        JSON.stringify({ row, api: [job.metadata.namespace, job.metadata.name, job.status.phase] }));

      // A change reaches the row the same way: cancel it behind the page's back.
      const del = await fetch(`${base}/v1/namespaces/stream/trainingjobs/streamed-1`, { method: 'DELETE' });
      check('cancel through the API', del.status === 200, del.status);
      await page.waitForFunction(s => { const b = document.querySelector(s); return b && b.textContent === 'Cancelled'; },
        `${sel} .badge`, { timeout: 1000 });
      const after = await (await fetch(`${base}/v1/namespaces/stream/trainingjobs/streamed-1`)).json();
      check('the cancelled row shows the API\'s phase', after.status.phase === 'Cancelled' &&
        (await page.textContent(`${sel} .badge`)) === after.status.phase, after.status.phase);

      // Longer than the 5 s the page used to poll at: no GET of the list after the stream
      // opened, and the stream is the one request it opened.
      await new Promise(r => setTimeout(r, 6500));
      const list = seen.filter(r => r.method === 'GET' && r.url.includes('/v1/namespaces/stream/trainingjobs'));
      const polls = list.filter(r => r.at >= openedAt && !r.url.includes('watch=true'));
      const watches = list.filter(r => r.url.includes('watch=true'));
      check('no polling of the list once the stream is open (one list, one watch)',
        polls.length === 0 && watches.length === 1 && list.length === 2,
        JSON.stringify(list.map(r => r.url)));
      await shot(page, 'jobs-streamed.png');
    } finally {
      page.off('request', onRequest);
    }
  });

  await step('job detail', async () => {
    await page.goto(`${base}/ui/jobs`);
    await ready(page, 'jobs');
    await page.goto(`${base}/ui/jobs/ml/train-history`);
    await ready(page, 'jobs');
    const steps = await page.$$eval('[data-testid=timeline] li', l => l.map(x => x.textContent));
    check('timeline lists every event', steps.length === 5 && /Queued/.test(steps[0]) &&
      /Running/.test(steps[3]) && /Succeeded/.test(steps[4]),
      steps.join(' | '));
    // No recorded decision: the panel is the API's phase, cluster, pool and message.
    const hx = await apiGet(page, '/v1/namespaces/ml/trainingjobs/train-history/explain');
    const hp = await explainPanel(page);
    const hwant = `${hx.phase || hx.status} ${hx.cluster ? `in ${hx.cluster}` : ''}` +
      `${hx.pool ? ` (pool ${hx.pool})` : ''}${hx.message ? ` — ${hx.message}` : ''}`;
    check('a finished job without a recorded decision shows the API\'s phase, cluster, pool and message',
      hx.status !== 'placed' && hx.status !== 'pending' && hx.phase === 'Succeeded' &&
      hx.cluster === 'sim-east' && same(hp.paragraphs, [hwant.replace(/\s+/g, ' ').trim()]),
      JSON.stringify({ shown: hp.paragraphs, want: hwant, api: hx }));
    const status = await page.textContent('[data-testid=status] dd[data-key=cluster]');
    check('status names the cluster', status === 'sim-east', status);
    // Its times are the API's, in order, and the run time is the difference (6 min).
    {
      const jx = await apiGet(page, '/v1/namespaces/ml/trainingjobs/train-history');
      const fmtTs = t => t ? new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
      const keys = ['submitted', 'admitted', 'started', 'finished', 'run time'];
      const shown = [];
      for (const k of keys) shown.push(await page.textContent(`[data-testid=status] dd[data-key="${k}"]`));
      const api = [jx.metadata.creationTimestamp, jx.status.admittedAt, jx.status.startTime, jx.status.completionTime];
      const ms = api.map(t => Date.parse(t));
      const want = api.map(fmtTs).concat([`${((ms[3] - ms[2]) / 60000).toFixed(0)} min`]);
      check('a finished job\'s times are the API\'s, in order, with its run time',
        same(shown, want) && ms.every((t, i) => Number.isFinite(t) && (i === 0 || t >= ms[i - 1])) &&
        shown[4] === '6 min', JSON.stringify({ shown, want }));
    }
    await noBadValues(page, 'job detail (finished)');
    await shot(page, 'job-detail.png');

    // A job the scheduler placed: the panel says where it was placed (not "would be"),
    // and every score term it shows is the API's number.
    await page.goto(`${base}/ui/jobs/ml/train-placed`);
    await ready(page, 'jobs');
    await page.waitForSelector('[data-testid=explain] tr[data-term=total]', { timeout: 15000 });
    const x = await apiGet(page, '/v1/namespaces/ml/trainingjobs/train-placed/explain');
    const pp = await explainPanel(page);
    const ru = x.runner_up;
    const pwant = [`Placed in ${x.cluster} (pool ${x.pool}, SKU ${x.sku})` +
      (x.candidates !== undefined ? ` out of ${x.candidates} candidate clusters` : '')];
    if (ru && ru.cluster) pwant.push(`runner-up: ${ru.cluster}` + (ru.total !== undefined ? ` (total ${fmt3(ru.total)})` : ''));
    // What the cost term priced: the API's price, and its work factor when it is not 1.
    pwant.push(`cost term: ${fmt3(x.score.pricePerGpuHour)} per GPU-hour` +
      (x.score.workFactor !== 1 ? ` × ${fmt3(x.score.workFactor)} for the job's throughput here (per unit of work)` : ''));
    check('a placed job reads "Placed in" the API\'s cluster, pool, SKU and candidates (and runner-up and price)',
      x.status === 'placed' && x.phase !== 'Queued' && x.cluster &&
      typeof x.score.pricePerGpuHour === 'number' && x.score.pricePerGpuHour > 0 &&
      typeof x.score.workFactor === 'number' && same(pp.paragraphs, pwant),
      JSON.stringify({ shown: pp.paragraphs, want: pwant }));
    // Where its objects are in the member cluster: the API's memberNamespace (the default
    // template fedsched-{ns}, the simulated clusters set none) and objectName.
    const pj = await apiGet(page, '/v1/namespaces/ml/trainingjobs/train-placed');
    const where = await page.$$eval('[data-testid=status] dd[data-key="member namespace"], ' +
      '[data-testid=status] dd[data-key=object]', d => d.map(x => x.textContent));
    check('a placed job shows the API\'s member namespace and object name',
      pj.status.memberNamespace === 'fedsched-ml' &&
      pj.status.objectName === `fj-${pj.metadata.uid}-${pj.status.attempt}` &&
      same(where, [pj.status.memberNamespace, pj.status.objectName]),
      JSON.stringify({ shown: where, api: pj.status }));
    const shown = pp.terms;
    const want = { total: x.score.total, ...x.score.terms };
    const diff = Object.keys(want).filter(k => shown[k] !== fmt3(want[k]));
    check('explain terms equal the API numbers', Object.keys(want).length === 7 && diff.length === 0 &&
      Object.keys(shown).length === 7,
      JSON.stringify({ shown, want, diff }));
    await noBadValues(page, 'job detail (placed)');

    await page.goto(`${base}/ui/jobs/ml/train-pending`);
    await ready(page, 'jobs');
    await page.waitForFunction(() => /Pending|Would be placed/.test(
      document.querySelector('[data-testid=explain]').textContent), null, { timeout: 15000 });
    const px = await apiGet(page, '/v1/namespaces/ml/trainingjobs/train-pending/explain');
    const qp = await explainPanel(page);
    const head = `Pending: ${px.reason && px.reason.reason} — ${px.reason && px.reason.message}`;
    check('queued job explains itself with the API\'s reason and message',
      px.status === 'pending' && px.reason && px.reason.reason && px.reason.message &&
      same(qp.paragraphs, [head.replace(/\s+/g, ' ').trim()]),
      JSON.stringify({ shown: qp.paragraphs, want: head }));
    // Quota reasons (when any), then every cluster the API names, in its order, with its
    // fit and each of its reasons.
    const quota = (px.quota || []).map(reasonLine);
    const perCluster = (px.clusters || []).map(c => ({ text: `${c.cluster}${c.fits ? ' (fits)' : ''}`,
      items: (c.reasons || []).map(reasonLine) }));
    const lwant = quota.length ? [quota.map(t => ({ text: t, items: [] })), perCluster] : [perCluster];
    check('queued job lists the API\'s reasons per cluster (and quota)',
      perCluster.length === 3 && perCluster.every(c => c.items.length > 0) &&
      JSON.stringify(qp.lists) === JSON.stringify(lwant) &&
      same(qp.headings, quota.length ? ['Quota', 'Per cluster'] : ['Per cluster']),
      JSON.stringify({ shown: qp.lists, want: lwant, headings: qp.headings }));
    // Its place in the queue and its estimate, as the API's queue member gives them (the
    // estimate from another what-if a moment apart: within two minutes, or both unknown).
    const shownQueue = await page.$eval('[data-testid=queue]', el => el.textContent.replace(/\s+/g, ' ').trim());
    const shownEta = await page.$eval('[data-testid=queue] [data-testid=eta]', el => el.textContent.trim());
    const pq = px.queue || {};
    const wantQueue = `Queue: position ${pq.position}, ${pq.ahead && pq.ahead.jobs} job${pq.ahead && pq.ahead.jobs === 1 ? '' : 's'} and ` +
      `${pq.ahead && pq.ahead.gpus} GPUs ahead; estimated start ${shownEta}`;
    const etaOk = pq.estimatedStart === null
      ? shownEta === (pq.noEstimate === 'never' ? 'never as the federation stands: no GPU that frees up can take it' : 'unknown')
      : Math.abs(Date.parse(shownEta.replace(' ', 'T')) - Date.parse(pq.estimatedStart)) <= 120000;
    check('queued job shows the API\'s queue position, jobs and GPUs ahead, and estimate',
      Number.isInteger(pq.position) && pq.position >= 1 && shownQueue === wantQueue && etaOk,
      JSON.stringify({ shownQueue, wantQueue, api: pq }));
    await noBadValues(page, 'job detail (queued)');
    await shot(page, 'job-explain.png');

    // A job its own quota refuses, preempting a lower-priority job of its namespace: the
    // panel gives the API's reason and then the API's preemption, victim by name.
    await page.goto(`${base}/ui/jobs/research/urgent`);
    await ready(page, 'jobs');
    await page.waitForSelector('[data-testid=preemption]', { timeout: 15000 });
    const ux = await apiGet(page, '/v1/namespaces/research/trainingjobs/urgent/explain');
    const up = await explainPanel(page);
    const uwant = [`Pending: ${ux.reason && ux.reason.reason} — ${ux.reason && ux.reason.message}`,
      `Preempting: ${ux.preemption && ux.preemption.message}`].map(t => t.replace(/\s+/g, ' ').trim());
    check('a preempting job shows the API\'s reason and the preemption it waits for',
      ux.status === 'pending' && ux.reason && ux.reason.reason === 'quota' && ux.preemption &&
      (ux.preemption.victims || []).length === 1 && ux.preemption.victims[0].name === 'low' &&
      same(up.paragraphs, uwant),
      JSON.stringify({ shown: up.paragraphs, want: uwant, api: ux }));
    await noBadValues(page, 'job detail (preempting)');
  });

  await step('queue view', async () => {
    // Every row as the API's view gives it, in its order: place, priority, GPUs, SKUs,
    // position, jobs and GPUs ahead exactly, why it waits by code, and the estimate within
    // two minutes (two what-ifs a moment apart), or both unknown.
    const rowsOf = () => page.$$eval('[data-testid=queue-view-table] tbody tr[data-job]', r => r.map(x => ({
      job: x.dataset.job, cells: Array.from(x.cells).map(c => c.textContent.replace(/\s+/g, ' ').trim()),
      eta: x.querySelector('[data-eta]').dataset.eta, reason: x.querySelector('[data-reason]').dataset.reason })));
    // As fmtNum() prints an integer; a held job, or one in a retry backoff, has no place.
    const n = v => v === null || v === undefined ? '-' : Number(v).toLocaleString('en-US');
    const want = it => [n(it.order), it.metadata.namespace, it.metadata.name, n(it.priority),
      n(it.gpus), it.skus.join(', '), n(it.position), n((it.ahead || {}).jobs), n((it.ahead || {}).gpus)];
    // The first row that differs from the API's item (-1: none; the count when they differ).
    const differs = (rows, view) => {
      if (rows.length !== view.items.length || !view.items.length) return rows.length;
      return view.items.findIndex((it, i) => !(rows[i].job === `${it.metadata.namespace}/${it.metadata.name}` &&
        same(rows[i].cells.slice(0, 9), want(it)) &&
        rows[i].reason === (it.pendingReason ? it.pendingReason.reason : '') &&
        (it.estimatedStart === null ? rows[i].eta === '' && rows[i].cells[9] === (it.order === null ? '-' : it.noEstimate === 'never' ? 'never' : 'unknown')
          : Math.abs(Date.parse(rows[i].eta) - Date.parse(it.estimatedStart)) <= 120000)));
    };
    const compare = (rows, view) => differs(rows, view) === -1;
    await page.goto(`${base}/ui/queue`);
    await ready(page, 'queue');
    const rows = await rowsOf();
    const view = await apiGet(page, '/v1/queue');
    const at = differs(rows, view);
    check('queue view shows the API\'s queue, job by job, in its order', at === -1,
      JSON.stringify({ rows: rows.length, items: view.items.length, at, shown: rows[at], api: view.items[at] }));
    // The seeded held job and the one in a retry backoff come last, after every placed one.
    const aside = view.items.map(it => it.pendingReason && it.pendingReason.reason).slice(-2);
    check('queue view lists the held job and the one in a retry backoff after the queue',
      same(aside, ['RetryBackoff', 'Held']) && view.metadata.held === 1 && view.metadata.retryBackoff === 1 &&
      rows.slice(-2).every(r => r.cells[0] === '-' && r.cells[9] === '-'),
      JSON.stringify({ aside, metadata: view.metadata, shown: rows.slice(-2) }));
    // The 1,024-GPU jobs fit in no cluster: the API says they never start, and so does the page.
    const never = view.items.map((it, i) => [it, rows[i]]).filter(([it]) => it.metadata.name === 'train-pending');
    check('queue view says "never" where the API has no estimate because no GPU could take the job',
      never.length === 1 && never[0][0].estimatedStart === null && never[0][0].noEstimate === 'never' &&
      never[0][1].cells[9] === 'never',
      JSON.stringify(never));
    const note = await page.textContent('[data-testid=queue-note]');
    // Of the queue's jobs, not counting the held one after it ("2 of 1 queued" once).
    const m = view.metadata, inQueue = m.total - m.held - m.retryBackoff;
    check('queue view says how many jobs are queued and shown',
      m.held > 0 && inQueue <= m.queued &&
      note.startsWith(`${inQueue} of ${m.queued} queued jobs selected, ${view.items.length} shown`) &&
      note.includes(`After the queue, not in it: ${m.held} held`), note);
    await noBadValues(page, 'queue');
    await shot(page, 'queue.png');
    // The held job's page: held in its status, and the API's reason with no empty
    // per-cluster section (a held job gets no what-if); a queued job that is not held says no.
    for (const [name, held] of [['crowd-5', true], ['crowd-20', false]]) {
      await page.goto(`${base}/ui/jobs/ml/${name}`);
      await ready(page, 'jobs');
      await page.waitForSelector('[data-testid=explain]');
      const hj = await apiGet(page, `/v1/namespaces/ml/trainingjobs/${name}`);
      const hx = await apiGet(page, `/v1/namespaces/ml/trainingjobs/${name}/explain`);
      const shownHeld = await page.textContent('[data-testid=status] dd[data-key=held]');
      const panel = await explainPanel(page);
      check(`the job page of ${held ? 'a held' : 'a queued, not held'} job says so, as the API does`,
        hj.status.held === held && shownHeld === (held ? 'yes: not placed until released' : 'no') &&
        (!held || (hx.reason.reason === 'Held' && same(panel.paragraphs, [`Pending: Held — ${hx.reason.message}`]) &&
          panel.headings.length === 0)),
        JSON.stringify({ shownHeld, panel, api: { held: hj.status.held, reason: hx.reason } }));
    }
    // One namespace: the rows of the API's namespace view.
    await page.goto(`${base}/ui/queue?ns=ml`);
    await ready(page, 'queue');
    const nsRows = await rowsOf();
    const nsView = await apiGet(page, '/v1/namespaces/ml/queue');
    check('queue view of one namespace shows that namespace\'s view',
      compare(nsRows, nsView) && nsRows.every(r => r.job.startsWith('ml/')),
      JSON.stringify({ shown: nsRows.map(r => r.job), api: nsView.items.map(it => it.metadata.name) }));
  });

  await step('cancel button', async () => {
    await page.goto(`${base}/ui/jobs/ml/train-cancel`);
    await ready(page, 'jobs');
    await page.click('[data-testid=cancel]');
    await page.click('[data-testid=confirm-cancel]');
    await page.waitForFunction(() => document.querySelector('h1 + .badge') &&
      document.querySelector('h1 + .badge').textContent === 'Cancelled' &&
      /Cancelled/.test(document.querySelector('[data-testid=timeline]').textContent), null, { timeout: 10000 });
    const tl = await page.textContent('[data-testid=timeline]');
    check('cancel shows in the timeline', /Cancelled/.test(tl), tl);
    check('no cancel button on a cancelled job', await page.$('[data-testid=cancel]') === null, 'still there');
    const phase = await page.evaluate(async () => (await (await fetch('/v1/namespaces/ml/trainingjobs/train-cancel')).json()).status.phase);
    check('job is Cancelled in the API', phase === 'Cancelled', phase);
  });

  await step('clusters', async () => {
    await page.goto(`${base}/ui/clusters`);
    await ready(page, 'clusters');
    await noBadValues(page, 'clusters');
    const names = await page.$$eval('[data-cluster]', c => c.map(x => x.dataset.cluster));
    check('three simulated clusters', names.length === 3, names.join(','));
    // The checks run when the clusters are registered; wait until the API has them all,
    // then until the page shows them (it refreshes every 10 s).
    await page.waitForFunction(async () => {
      const l = await (await fetch('/v1/clusters')).json();
      return l.items.length === 3 && l.items.every(c => c.status.prerequisitesCheckedAt);
    }, null, { timeout: 30000, polling: 500 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^="checked-"]').length === 3 &&
      Array.from(document.querySelectorAll('[data-testid^="checked-"]')).every(x => x.textContent.startsWith('checked ')),
    null, { timeout: 15000 });
    const clist = await apiGet(page, '/v1/clusters');
    const pwant = prereqWanted(clist), pshown = await prereqShown(page);
    check('each cluster shows the API\'s conditions (type, status, reason, message, since), ' +
      'capabilities and check time, and is flagged exactly when a condition is False',
      pwant.length === 3 && pwant.every(c => c.rows.length >= 6) &&
      JSON.stringify(pshown) === JSON.stringify(pwant),
      JSON.stringify({ shown: pshown, want: pwant }));
    // The scenario serves no ray.io on sim-onprem: that False condition is on the page.
    const onprem = clist.items.find(c => c.name === 'sim-onprem');
    const ray = onprem && onprem.status.conditions.find(k => k.type === 'KubeRayInstalled');
    const east = clist.items.find(c => c.name === 'sim-east');
    check('sim-onprem without KubeRay: KubeRayInstalled False, flagged, the other clusters not',
      ray && ray.status === 'False' && ray.reason && ray.message &&
      same(onprem.status.capabilities, ['kubeflow.org/v1']) &&
      (await page.textContent('[data-testid=missing-sim-onprem]')) === 'missing: KubeRayInstalled' &&
      await page.$('[data-cluster="sim-onprem"].flagged') !== null &&
      east && east.status.conditions.every(k => k.status === 'True') &&
      await page.$('[data-cluster="sim-east"].flagged') === null,
      JSON.stringify({ onprem: onprem && onprem.status.conditions, east: east && east.status.conditions }));
    // The nodes section, opened: every row is the API's node, in the API's order, with its
    // free and allocatable GPUs, cores and memory. Jobs start and end meanwhile, so the
    // section is read again (closed and opened) until one reading matches one answer.
    const fmtD = (v, d) => Number(v).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
    const amount = (a, unit, d) => a ? `${fmtD(a.free / unit, d)} / ${fmtD(a.allocatable / unit, d)}` : '-';
    const nodeRows = page => page.$$eval('[data-testid=nodes-table-sim-east] tbody tr[data-node]',
      r => r.map(x => Array.from(x.cells).map(c => c.textContent)));
    // The section reads the nodes in chunks (limit and continue): here the server is asked
    // for 3 at a time instead of 500, so the ten nodes come in four pages it must follow.
    const chunked = [];
    const toThree = route => {
      const u = new URL(route.request().url());
      if (!u.searchParams.has('limit')) return route.continue();
      u.searchParams.set('limit', '3');
      chunked.push(u.searchParams.has('continue'));
      return route.continue({ url: u.toString() });
    };
    await page.route('**/v1/clusters/sim-east/nodes?*', toThree);
    await page.click('[data-testid=nodes-sim-east] summary');
    let nodesShown = [], nodesWant = [];
    for (let i = 0; i < 5; i++) {
      await page.waitForSelector('[data-testid=nodes-table-sim-east] tbody tr[data-node]', { timeout: 10000 });
      const nl = await apiGet(page, '/v1/clusters/sim-east/nodes');
      nodesWant = nl.items.map(n => [n.name, n.sku || 'unknown', n.pool, n.schedulable ? 'yes' : 'no',
        amount(n.gpus, 1, 0), fmtD(n.gpus.borrowed, 0), amount(n.cpuMillicores, 1000, 1),
        amount(n.memoryMiB, 1024, 0)]);
      nodesShown = await nodeRows(page);
      if (JSON.stringify(nodesShown) === JSON.stringify(nodesWant)) break;
      await page.click('[data-testid=nodes-sim-east] summary');
      await page.click('[data-testid=nodes-sim-east] summary');
      await page.waitForTimeout(500);
    }
    check('the nodes section shows the API\'s nodes, each with its SKU, pool, schedulable and free / ' +
      'allocatable GPUs, borrowed GPUs, cores and memory',
      nodesWant.length === 10 && nodesWant.some(r => r[3] === 'no') &&
      JSON.stringify(nodesShown) === JSON.stringify(nodesWant),
      (k => JSON.stringify({ rows: [nodesShown.length, nodesWant.length], row: k,
        shown: nodesShown[k], want: nodesWant[k] }))(nodesWant.findIndex((r, k) =>
        JSON.stringify(r) !== JSON.stringify(nodesShown[k]))));
    await page.unroute('**/v1/clusters/sim-east/nodes?*', toThree);
    check('the nodes section follows the list\'s continue tokens (four pages of 3 for ten nodes)',
      chunked.length >= 4 && chunked.filter(c => !c).length >= 1 &&
      chunked.filter(c => c).length >= 3 * chunked.filter(c => !c).length,
      JSON.stringify(chunked));
    await noBadValues(page, 'clusters with a nodes section open');
    const borrowed = await page.textContent('[data-cluster="sim-west"]');
    check('borrowed job listed under its cluster', /ml\/train-borrowed/.test(borrowed), borrowed.slice(0, 300));
    await page.click('[data-testid=cordon-sim-east]');
    await page.waitForFunction(() => /cordoned/.test(document.querySelector('[data-cluster="sim-east"]').textContent), null, { timeout: 10000 });
    check('cordon from the page', true);
    await shot(page, 'clusters.png');
    await page.click('[data-testid=cordon-sim-east]');
    await page.waitForFunction(() => !/cordoned/.test(document.querySelector('[data-cluster="sim-east"] .row').textContent), null, { timeout: 10000 });
    check('uncordon from the page', true);
  });

  await step('reports', async () => {
    await page.goto(`${base}/ui/reports?from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z&step=1h`);
    await ready(page, 'reports');
    await noBadValues(page, 'reports');
    const rows = await page.$$eval('[data-testid=report-totals] tbody tr', r => r.map(x => x.textContent));
    check('report totals rendered', rows.some(t => t.startsWith('az1a100-80gbtraining32.0')), rows.join(' | '));
    // Cell by cell, the totals are the report's JSON (testdata/reports/history.sql: az2's
    // NotReady node leaves 2/3 GPU-hour unavailable).
    {
      const rx = await apiGet(page, '/v1/reports/capacity?from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z&step=1h&format=json');
      const cells = await page.$$eval('[data-testid=report-totals] tbody tr', r => r.map(x =>
        [...x.querySelectorAll('td')].map(td => td.textContent)));
      const f = (v, d) => Number(v).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
      const want = rx.totals.map(t => [t.cluster, t.sku, t.pool, f(t.gpuHoursTotal, 1), f(t.gpuHoursTraining, 1),
        f(t.gpuHoursServing, 1), f(t.gpuHoursBorrowed, 1), f(t.gpuHoursIdle, 1), f(t.gpuHoursUnavailable, 1),
        f(t.utilisationPct, 1), f(t.jobsPlaced, 0), f(t.jobsSucceeded, 0), f(t.jobsFailed, 0),
        f(t.jobsPreempted, 0), f(t.gpuHoursLostToReclaim, 2)]);
      const az2 = rx.totals.find(t => t.cluster === 'az2');
      check('report totals are the report\'s JSON, unavailable GPU-hours included',
        az2 && az2.gpuHoursUnavailable === 0.667 && JSON.stringify(cells) === JSON.stringify(want),
        JSON.stringify({ cells, want }));
    }
    check('report charts drawn', (await page.$$('[data-testid=report] svg')).length >= 3, 'missing charts');
    {
      // The federation chart splits idle into free and unavailable, step by step as the JSON:
      // one "unavailable" bar per step with unavailable GPU-hours, and idle bars of the rest.
      const rx = await apiGet(page, '/v1/reports/capacity?from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z&step=1h&format=json');
      const titles = await page.$$eval('[data-testid=report] > .card:first-child svg rect title', t => t.map(x => x.textContent));
      const f2 = v => Number(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      const bars = name => titles.filter(t => t.includes(` ${name}: `)).map(t => t.split(`${name}: `)[1]);
      const wantUnavail = rx.federation.filter(p => p.gpuHoursUnavailable > 0).map(p => f2(p.gpuHoursUnavailable));
      const wantIdle = rx.federation.filter(p => p.gpuHoursIdle - p.gpuHoursUnavailable > 0)
        .map(p => f2(p.gpuHoursIdle - p.gpuHoursUnavailable));
      check('report chart shows unavailable GPU-hours apart from idle, as the JSON has them',
        wantUnavail.length > 0 && same(bars('unavailable'), wantUnavail) && same(bars('idle'), wantIdle),
        JSON.stringify({ unavailable: bars('unavailable'), wantUnavail, idle: bars('idle').slice(0, 5), wantIdle: wantIdle.slice(0, 5) }));
    }
    await shot(page, 'reports.png');

    {
      // A filter set in the form reaches the API: only az2's totals, as its JSON has them,
      // and the downloads carry the filter too.
      await page.fill('input[name=cluster]', 'az2');
      await page.selectOption('select[name=pool]', 'training');
      await page.click('form.filters button[type=submit]');
      await page.waitForURL(/cluster=az2/);
      await ready(page, 'reports');
      const rx = await apiGet(page, '/v1/reports/capacity?from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z&step=1h&cluster=az2&pool=training&format=json');
      const cells = await page.$$eval('[data-testid=report-totals] tbody tr', r => r.map(x =>
        [...x.querySelectorAll('td')].slice(0, 4).map(td => td.textContent)));
      const want = rx.totals.map(t => [t.cluster, t.sku, t.pool,
        Number(t.gpuHoursTotal).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })]);
      const csv = await page.getAttribute('a[download="capacity-report.csv"]', 'href');
      const title = await page.textContent('[data-testid=report] .card h2');
      check('a filtered report shows only its rows, as the filtered JSON has them, and says so',
        want.length === 1 && want[0][0] === 'az2' && JSON.stringify(cells) === JSON.stringify(want) &&
          /cluster=az2/.test(csv) && /pool=training/.test(csv) &&
          title.startsWith('GPU-hours of cluster az2; pool training,'),
        JSON.stringify({ cells, want, csv, title }));
    }

    await page.goto(`${base}/v1/reports/capacity?from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z&step=1h&format=html`);
    const svgs = await page.$$('svg');
    check('HTML report renders its inline SVG charts', svgs.length >= 3, svgs.length);
    const ct = await page.textContent('h1');
    check('HTML report has its title', /capacity report/.test(ct), ct);
    await shot(page, 'report-html.png');
  });

  const authBase = process.env.FEDSCHED_UI_AUTH_BASE, viewer = process.env.FEDSCHED_VIEWER_TOKEN;
  await step('tokens', async () => {
    if (!authBase || !viewer) throw new Error('FEDSCHED_UI_AUTH_BASE/FEDSCHED_VIEWER_TOKEN not set');
    const ctx = await watchedContext(browser, 'viewer');
    const p2 = await ctx.newPage();
    await p2.goto(`${authBase}/ui/`);
    await ready(p2, 'overview');
    check('without a token the token box opens', await p2.isVisible('#token-box'), 'token box hidden');
    check('without a token the page says 401', /401/.test(await p2.textContent('main')), 'no 401 shown');
    await p2.fill('#token-input', viewer);
    await p2.click('#token-save');
    await p2.waitForFunction(() => document.querySelectorAll('[data-testid=queue-table] tbody tr td.num').length > 0,
      null, { timeout: 15000 });
    check('a viewer token shows the overview', true);
    await p2.goto(`${authBase}/ui/jobs/ml/train-pending`);
    await ready(p2, 'jobs');
    await p2.click('[data-testid=cancel]');
    await p2.click('[data-testid=confirm-cancel]');
    await p2.waitForSelector('.confirm .error', { timeout: 10000 });
    const msg = await p2.textContent('.confirm .error');
    check('a viewer may not cancel, and is told so', /not allowed/.test(msg) && /403/.test(msg), msg);
    const phase = await p2.evaluate(async t => (await (await fetch('/v1/namespaces/ml/trainingjobs/train-pending',
      { headers: { Authorization: 'Bearer ' + t } })).json()).status.phase, viewer);
    check('the job is still Queued', phase === 'Queued', phase);
    await shot(p2, 'viewer-cancel-refused.png');
    await p2.goto(`${authBase}/ui/clusters`);
    await ready(p2, 'clusters');
    await p2.click('[data-testid=cordon-sim-west]');
    await p2.waitForSelector('[data-testid=clusters] > .error', { timeout: 10000 });
    const cmsg = await p2.textContent('[data-testid=clusters] > .error');
    check('a viewer may not cordon, and is told so', /only admins/.test(cmsg), cmsg);
    await ctx.close();
  });

  // Offline: every request of every context went to one of the two fedsched replicas. Each
  // context must have made requests (a listener that saw nothing proves nothing), and no
  // context may exist that was not watched.
  const ours = u => u.startsWith(base + '/') || (authBase && u.startsWith(authBase + '/')) ||
    u.startsWith('data:');
  const outside = watched.flatMap(w => w.requests.filter(u => !ours(u)).map(u => `${w.label}: ${u}`));
  check('every request of every browser context goes to fedsched (works offline)',
    outside.length === 0 && watched.length === 2 && watched.every(w => w.requests.length > 0),
    JSON.stringify({ outside, requests: watched.map(w => [w.label, w.requests.length]) }));
  const unwatched = browser.contexts().filter(c => !watched.some(w => w.ctx === c));
  check('no browser context without the request watch', unwatched.length === 0, unwatched.length);
  check('no JavaScript errors', pageErrors.length === 0, pageErrors.join(' | '));
  await browser.close();
}

main().catch(e => check('run', false, e && e.stack || e)).finally(() => {
  const failed = checks.filter(c => !c.ok).length;
  process.stdout.write(JSON.stringify({ passed: checks.length - failed, failed, screenshots: shots, checks }) + '\n');
  process.exit(failed ? 1 : 0);
});
