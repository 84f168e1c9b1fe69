// The local console's page script. Plain DOM, no framework: four panels fed by the console API.
// Every value from an audit event (user, tool, arguments, reason…) is attacker-controlled text: it is only ever
// put into the page with textContent or as an attribute value, never parsed as HTML.

const MAX_ROWS = 1000; // the server's ring holds at most this many; the page keeps no more
const MAX_TABLE_ROWS = 300; // rows drawn in the decisions table (newest first)
const SVG = 'http://www.w3.org/2000/svg';
const SERIES_CLASSES = 8; // series-0 … series-7 in console.css

const byId = (id) => document.getElementById(id);
const el = (tag, text, className) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
};

let rows = [];
let source;
let renderQueued = false;

// --- filters and the stream -------------------------------------------------------------------------------

function currentFilter() {
  const form = new FormData(byId('filters'));
  const filter = new URLSearchParams();
  for (const name of ['user', 'tool', 'decision']) {
    const value = String(form.get(name) ?? '').trim();
    if (value !== '') filter.set(name, value);
  }
  return filter;
}

function setStatus(text, state) {
  const status = byId('status');
  status.textContent = text;
  status.dataset.state = state;
}

function connect() {
  source?.close();
  const filter = currentFilter();
  // Until the new stream's history arrives, the page shows nothing rather than rows from the old filter.
  setStatus('connecting…', 'connecting');
  rows = [];
  drawTable();
  source = new EventSource(`/console/api/events?${filter}`);
  source.addEventListener('history', (message) => {
    rows = JSON.parse(message.data).slice(-MAX_ROWS);
    drawTable();
    queueSummaries();
    setStatus('live', 'live');
  });
  source.addEventListener('decision', (message) => {
    const decision = JSON.parse(message.data);
    rows.push(decision);
    if (rows.length > MAX_ROWS) rows.shift();
    const body = byId('decisions').tBodies[0];
    body.prepend(decisionRow(decision));
    while (body.rows.length > MAX_TABLE_ROWS) body.lastElementChild.remove();
    byId('decision-count').textContent = `(${rows.length})`;
    queueSummaries();
  });
  source.addEventListener('outcome', (message) => {
    const { uid, outcome } = JSON.parse(message.data);
    const row = rows.find((candidate) => candidate.uid === uid);
    if (row) row.outcome = outcome;
    for (const line of byId('decisions').tBodies[0].rows)
      if (line.dataset.uid === uid) line.querySelector('.outcome').textContent = outcome;
  });
  source.addEventListener('error', () => {
    // EventSource reconnects by itself; the history is sent again on reconnect.
    setStatus(source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…', 'down');
  });
}

function policyLabel(decision) {
  if (decision.policies.length > 0) return decision.policies.join(', ');
  if (decision.decision !== 'deny') return '';
  return !decision.errorCode || decision.errorCode === 'AccessDenied'
    ? 'no permit (default deny)'
    : decision.errorCode;
}

function decisionRow(decision) {
  const row = el('tr', undefined, decision.decision === 'allow' ? 'allow' : 'deny');
  row.dataset.uid = decision.uid;
  const cells = [
    ['time', decision.time.replace('T', ' ').replace('Z', '')],
    ['user', decision.user],
    ['agent', decision.agent],
    ['tool', decision.tool],
    ['arguments', decision.arguments],
    ['decision', decision.enforced ? decision.decision : `${decision.decision} (not enforced)`],
    ['policy', policyLabel(decision)],
    ['reason', decision.reason],
    ['outcome', decision.outcome],
  ];
  for (const [name, text] of cells) {
    const cell = el('td', text, name);
    if (name === 'arguments' || name === 'reason') cell.title = text;
    row.append(cell);
  }
  return row;
}

function drawTable() {
  const body = byId('decisions').tBodies[0];
  body.replaceChildren(...rows.slice(-MAX_TABLE_ROWS).reverse().map(decisionRow));
  byId('decision-count').textContent = `(${rows.length})`;
}

// --- summaries: activity per user, denials over time ------------------------------------------------------

function queueSummaries() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    drawUsers();
    drawDenials();
  });
}

function drawUsers() {
  const users = new Map();
  for (const row of rows) {
    const entry = users.get(row.user) ?? { calls: 0, allowed: 0, denied: 0, last: '' };
    entry.calls += 1;
    if (row.decision === 'allow') entry.allowed += 1;
    else entry.denied += 1;
    if (row.time >= entry.last) entry.last = `${row.time.slice(11, 19)} ${row.tool}`;
    users.set(row.user, entry);
  }
  const body = byId('users').tBodies[0];
  body.replaceChildren(
    ...[...users.entries()]
      .sort((a, b) => b[1].calls - a[1].calls)
      .map(([user, entry]) => {
        const line = el('tr');
        const name = el('td');
        const button = el('button', user, 'link');
        button.type = 'button';
        button.addEventListener('click', () => {
          byId('filters').elements.user.value = user;
          connect();
        });
        name.append(button);
        line.append(name, el('td', String(entry.calls)), el('td', String(entry.allowed)));
        line.append(el('td', String(entry.denied)), el('td', entry.last));
        return line;
      }),
  );
}

// A hand-rolled SVG rather than uPlot: the chart is stacked bars per policy, which uPlot draws only with the
// stacking code from its demos (not in the package), and ~60 lines of createElementNS keep every label text.
const BUCKETS = 30;
const BUCKET_SECONDS = [60, 300, 900, 3600, 21600, 86400];

function drawDenials() {
  const chart = byId('denials-chart');
  const legend = byId('denials-legend');
  const denials = rows.filter((row) => row.decision === 'deny');
  const now = Date.now();
  const oldest = Math.min(now, ...denials.map((row) => Date.parse(row.time)).filter(Number.isFinite));
  const span = (now - oldest) / 1000;
  const size = BUCKET_SECONDS.find((seconds) => span / seconds < BUCKETS) ?? BUCKET_SECONDS.at(-1);
  const end = Math.floor(now / 1000 / size) * size + size;
  const start = end - BUCKETS * size;
  const series = [...new Set(denials.map(policyLabel))];
  const counts = Array.from({ length: BUCKETS }, () => new Map());
  for (const row of denials) {
    const at = Math.floor((Date.parse(row.time) / 1000 - start) / size);
    if (at < 0 || at >= BUCKETS) continue;
    counts[at].set(policyLabel(row), (counts[at].get(policyLabel(row)) ?? 0) + 1);
  }
  const top = Math.max(1, ...counts.map((bucket) => [...bucket.values()].reduce((a, b) => a + b, 0)));
  const width = 600;
  const height = 160;
  const plot = { left: 28, bottom: 20, top: 8 };
  const barWidth = (width - plot.left) / BUCKETS;
  const scale = (height - plot.bottom - plot.top) / top;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const shapes = [];
  const text = (x, y, value, anchor) => {
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', String(x));
    label.setAttribute('y', String(y));
    label.setAttribute('text-anchor', anchor);
    label.textContent = value;
    return label;
  };
  counts.forEach((bucket, index) => {
    let y = height - plot.bottom;
    series.forEach((name, seriesIndex) => {
      const count = bucket.get(name) ?? 0;
      if (count === 0) return;
      const bar = document.createElementNS(SVG, 'rect');
      bar.setAttribute('x', String(plot.left + index * barWidth + 1));
      bar.setAttribute('width', String(Math.max(1, barWidth - 2)));
      bar.setAttribute('y', String(y - count * scale));
      bar.setAttribute('height', String(count * scale));
      bar.setAttribute('class', `series-${seriesIndex % SERIES_CLASSES}`);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${name}: ${count} (${new Date((start + index * size) * 1000).toLocaleTimeString()})`;
      bar.append(title);
      shapes.push(bar);
      y -= count * scale;
    });
  });
  const clock = (seconds) =>
    new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  shapes.push(text(plot.left, height - 4, clock(start), 'start'), text(width, height - 4, clock(end), 'end'));
  shapes.push(
    text(plot.left - 4, plot.top + 8, String(top), 'end'),
    text(plot.left - 4, height - plot.bottom, '0', 'end'),
  );
  if (denials.length === 0) shapes.push(text(width / 2, height / 2, 'no denials in view', 'middle'));
  chart.replaceChildren(...shapes);
  legend.replaceChildren(
    ...series.map((name, index) => {
      const item = el('li');
      item.append(el('span', '', `swatch series-${index % SERIES_CLASSES}`), el('span', `${name}`));
      return item;
    }),
  );
  const bucketLabel = size >= 3600 ? `${size / 3600} h` : `${size / 60} min`;
  chart.setAttribute('aria-label', `denials by policy, ${BUCKETS} bars of ${bucketLabel}`);
}

// --- the playground ---------------------------------------------------------------------------------------

async function authorize(event) {
  event.preventDefault();
  const form = new FormData(byId('playground'));
  const input = {};
  for (const name of ['user', 'roles', 'agent', 'tool', 'args']) input[name] = String(form.get(name) ?? '');
  const result = byId('playground-result');
  result.replaceChildren(el('p', 'deciding…', 'hint'));
  let answer;
  try {
    const response = await fetch('/console/api/authorize', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(input),
    });
    answer = await response.json();
  } catch (error) {
    answer = { error: `the console did not answer: ${error.message}` };
  }
  if (answer.error !== undefined || answer.report === undefined) {
    result.replaceChildren(el('p', String(answer.error ?? 'no answer'), 'error'));
    return;
  }
  const report = answer.report;
  const decision = el('p', report.decision.toUpperCase(), `verdict ${report.decision}`);
  result.replaceChildren(decision, el('pre', answer.lines.join('\n'), 'explanation'));
}

// --- active grants and revocations ------------------------------------------------------------------------

async function loadAccess() {
  const body = byId('access').querySelector('tbody');
  try {
    const response = await fetch('/console/api/access');
    const answer = await response.json();
    if (!response.ok) {
      body.replaceChildren(accessRow(['store unreadable', answer.error ?? '', '', '', '', '', '']));
      return;
    }
    const until = (seconds) =>
      seconds === undefined ? 'until lifted' : new Date(seconds * 1000).toISOString();
    body.replaceChildren(
      ...answer.grants.map((grant) =>
        accessRow([
          'grant',
          grant.id,
          grant.user,
          grant.role,
          until(grant.expiresAt),
          grant.issuedBy,
          grant.reason,
        ]),
      ),
      ...answer.revocations.map((revocation) =>
        accessRow([
          'revoked',
          revocation.id,
          `${revocation.subject.kind}:${revocation.subject.id}`,
          '',
          until(revocation.expiresAt),
          revocation.issuedBy,
          revocation.reason,
        ]),
      ),
    );
  } catch {
    // the next poll tries again
  }
}

function accessRow(cells) {
  const tr = el('tr');
  for (const cell of cells) tr.append(el('td', String(cell ?? '')));
  return tr;
}

async function loadCatalog() {
  try {
    const response = await fetch('/console/api/catalog');
    const { users, tools } = await response.json();
    const options = (values) => values.map((value) => Object.assign(el('option'), { value }));
    byId('known-users').replaceChildren(...options(users));
    byId('known-tools').replaceChildren(...options(tools));
  } catch {
    // suggestions only
  }
}

byId('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  connect();
});
byId('filters').addEventListener('reset', () => setTimeout(connect));
byId('playground').addEventListener('submit', authorize);
setInterval(queueSummaries, 30_000); // the chart's time axis moves on
loadCatalog();
loadAccess();
setInterval(loadAccess, 5_000);
connect();
