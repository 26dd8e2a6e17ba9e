/**
 * The lock console page: one HTML document with its style and script inline (no build step, no
 * assets to serve), allowed by a per-response CSP nonce. The server puts no data in it: the
 * script reads everything from the JSON API and writes it with `textContent`, so nothing a lock
 * name or an instance record contains can become markup. ttls count down in the page between
 * refreshes.
 */
export function renderConsolePage(options: {
  /** The page's own path, without a trailing slash; the API is `${base}/api/...`. */
  base: string;
  nonce: string;
  refreshInterval: number;
}): string {
  const attr = (text: string) =>
    text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Locks · nestjs-redlock</title>
<style nonce="${options.nonce}">${STYLE}</style>
</head>
<body>
<main id="console" data-base="${attr(options.base)}" data-refresh="${options.refreshInterval}">
  <header>
    <h1>Locks</h1>
    <form id="filter" role="search">
      <label for="pattern">Resource pattern</label>
      <input id="pattern" name="pattern" placeholder="*" autocomplete="off" spellcheck="false">
      <button type="submit">Filter</button>
    </form>
    <span id="updated" aria-live="polite"></span>
  </header>
  <p id="message" role="status" hidden></p>
  <section>
    <h2>Held <span id="count" class="muted"></span></h2>
    <table>
      <thead><tr><th>Resource</th><th>Mode</th><th>Holder</th><th>Since</th><th>TTL left</th>
      <th>Fencing</th><th>Waiters</th><th>Nodes</th><th></th></tr></thead>
      <tbody id="locks"></tbody>
    </table>
  </section>
  <div class="columns">
    <section><h2>Nodes</h2><ul id="nodes"></ul></section>
    <section><h2>Recent events</h2><ol id="events"></ol></section>
  </div>
</main>
<script nonce="${options.nonce}">${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
:root{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1d232b;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:20px}
header{display:flex;gap:16px;align-items:center;flex-wrap:wrap}
h1{margin:0;font-size:22px}h2{font-size:15px;margin:20px 0 8px}
form{display:flex;gap:6px;align-items:center}label{color:#5b6573}
input{font:inherit;padding:5px 8px;border:1px solid #c5ccd6;border-radius:6px;min-width:220px}
button{font:inherit;padding:5px 10px;border-radius:6px;border:1px solid #9aa5b4;background:#fff;cursor:pointer}
button.release{border-color:#c4392f;color:#c4392f}button.release:hover{background:#c4392f;color:#fff}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden;box-shadow:0 1px 2px #0001}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #edf0f3;vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#5b6573}
td.ttl{font-variant-numeric:tabular-nums;font-weight:600}
.muted,small{color:#6b7480}.mono{font-family:ui-monospace,Menlo,monospace}
.columns{display:grid;grid-template-columns:1fr 2fr;gap:20px}
ul,ol{list-style:none;margin:0;padding:0;background:#fff;border-radius:8px;box-shadow:0 1px 2px #0001}
li{padding:6px 10px;border-bottom:1px solid #edf0f3}
.tag{display:inline-block;min-width:84px;font-size:12px;font-weight:600;border-radius:4px;padding:0 6px;margin-right:6px;background:#e4e8ee}
.up{color:#1f7a3f}.down{color:#c4392f}.t-acquired{background:#d7f0df}.t-released{background:#e4e8ee}
.t-lost,.t-unavailable,.t-forceReleased{background:#f8d7d4}.t-busy,.t-circuit,.t-degraded{background:#fbecc8}
#message{padding:8px 12px;border-radius:6px;background:#fff3cd}#message.error{background:#f8d7d4}
`;

const SCRIPT = `
'use strict';
const root = document.getElementById('console');
const base = root.dataset.base;
const refreshMs = Number(root.dataset.refresh);
const $ = (id) => document.getElementById(id);
let canRelease = false;
let timer;

// API calls keep the page's own query (a token guard may read it), with the pattern on top.
function api(path, pattern) {
  const query = new URLSearchParams(location.search);
  if (pattern !== undefined) query.set('pattern', pattern || '*');
  const text = query.toString();
  return base + '/api/' + path + (text ? '?' + text : '');
}
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? s + ' s ago' : s < 3600 ? Math.floor(s / 60) + ' min ago' : Math.floor(s / 3600) + ' h ago';
}
function show(text, error) {
  const box = $('message');
  box.hidden = !text;
  box.textContent = text || '';
  box.className = error ? 'error' : '';
}
function holderCell(lock) {
  const td = el('td');
  for (const holder of lock.holders) {
    const line = el('div');
    const who = holder.instance ? holder.instance.name : 'unknown instance';
    line.append(el('span', who + (holder.local ? ' (this process)' : '')));
    if (holder.instance) line.append(el('small', ' ' + holder.instance.host + ' · pid ' + holder.instance.pid));
    line.append(el('small', ' #' + holder.id, 'mono'));
    td.append(line);
  }
  return td;
}
function row(lock) {
  const tr = el('tr');
  tr.dataset.resource = lock.resource;
  tr.append(el('td', lock.resource, 'mono'));
  tr.append(el('td', lock.mode + (lock.writerWaiting ? ' (writer waiting)' : '')));
  tr.append(holderCell(lock));
  const first = lock.holders[0];
  const since = el('td', '—', 'since');
  if (first && first.acquiredAt) since.dataset.since = String(first.acquiredAt);
  tr.append(since);
  const ttl = el('td', '', 'ttl');
  ttl.dataset.deadline = lock.ttl < 0 ? '' : String(performance.now() + lock.ttl);
  tr.append(ttl);
  const token = first && first.fencingToken !== undefined ? 'token ' + first.fencingToken
    : lock.fencingCounter !== undefined ? '≤ ' + lock.fencingCounter : '—';
  const fencing = el('td', token);
  fencing.title = "token: exact (held by this process). ≤ n: the nodes' fencing counter, which bounds the holder's token";
  tr.append(fencing);
  tr.append(el('td', lock.waiters));
  tr.append(el('td', lock.nodes + (lock.quorum ? '' : ' (no quorum)')));
  const action = el('td');
  if (canRelease) {
    const button = el('button', 'Force release', 'release');
    button.type = 'button';
    button.addEventListener('click', () => release(lock.resource));
    action.append(button);
  }
  tr.append(action);
  return tr;
}
function tick() {
  for (const cell of document.querySelectorAll('td.since[data-since]')) {
    cell.textContent = ago(Number(cell.dataset.since));
  }
  for (const cell of document.querySelectorAll('td.ttl')) {
    const deadline = cell.dataset.deadline;
    if (!deadline) { cell.textContent = 'no expiry'; continue; }
    const left = Math.max(0, Number(deadline) - performance.now());
    cell.textContent = (left / 1000).toFixed(1) + ' s';
  }
}
// Rows are kept while what they show is unchanged (only the countdown is reset), so a refresh
// never pulls a button from under the pointer or a selection from under the reader.
const rows = new Map();
function renderLocks(locks) {
  const next = new Map();
  for (const lock of locks) {
    const { ttl, holders, ...shown } = lock;
    const who = holders.map(({ ttl: _left, ...holder }) => holder);
    const signature = JSON.stringify([shown, who, canRelease]);
    let tr = rows.get(lock.resource);
    if (!tr || tr.dataset.signature !== signature) {
      tr = row(lock);
      tr.dataset.signature = signature;
    }
    tr.querySelector('td.ttl').dataset.deadline = ttl < 0 ? '' : String(performance.now() + ttl);
    next.set(lock.resource, tr);
  }
  rows.clear();
  for (const [resource, tr] of next) rows.set(resource, tr);
  const body = $('locks');
  for (const child of [...body.children]) if (!next.has(child.dataset.resource)) child.remove();
  let previous = null;
  for (const tr of next.values()) {
    const expected = previous ? previous.nextSibling : body.firstChild;
    if (expected !== tr) body.insertBefore(tr, expected);
    previous = tr;
  }
}
function render(state) {
  canRelease = state.canRelease;
  renderLocks(state.locks);
  $('count').textContent = '(' + state.locks.length + (state.truncated ? '+, truncated' : '') + ')';
  if (state.locks.length === 0) {
    const tr = el('tr');
    tr.dataset.resource = '';
    const td = el('td', 'No lock is held' + (state.pattern !== '*' ? ' matching ' + state.pattern : '') + '.', 'muted');
    td.colSpan = 9;
    tr.append(td);
    $('locks').append(tr);
  }
  $('nodes').replaceChildren(...state.nodes.map((node) => {
    const li = el('li');
    li.append(el('span', node.health, 'tag ' + node.health));
    li.append(el('span', node.node, 'mono'));
    const detail = node.health === 'up' ? ' ' + node.latency + ' ms' : ' ' + (node.message || '');
    li.append(el('small', detail + (node.circuit !== 'closed' ? ' · circuit ' + node.circuit : '')));
    return li;
  }));
  $('events').replaceChildren(...state.events.map((event) => {
    const li = el('li');
    li.dataset.type = event.type;
    li.append(el('span', event.type, 'tag t-' + event.type));
    li.append(el('span', event.resources + ' ', 'mono'));
    li.append(el('small', event.detail + ' · ' + new Date(event.at).toLocaleTimeString()));
    return li;
  }));
  $('updated').textContent = 'updated ' + new Date(state.at).toLocaleTimeString();
  tick();
}
async function refresh() {
  clearTimeout(timer);
  try {
    const response = await fetch(api('state', $('pattern').value.trim()), { credentials: 'same-origin' });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || response.status + ' ' + response.statusText);
    render(body);
    if ($('message').className === 'error') show('');
  } catch (error) {
    show(String(error.message || error), true);
  } finally {
    timer = setTimeout(refresh, refreshMs);
  }
}
async function release(resource) {
  if (!confirm('Force-release ' + resource + '? Its holder may still be running; it learns at its next extension.')) return;
  try {
    const response = await fetch(api('release'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-redlock-console': '1' },
      body: JSON.stringify({ resource }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || response.status + ' ' + response.statusText);
    show('Released ' + resource + ' on ' + body.deleted + ' node(s)' +
      (body.fencingCounter !== undefined ? '; fencing counter now ' + body.fencingCounter : '') + '.');
  } catch (error) {
    show('Force release failed: ' + (error.message || error), true);
  }
  refresh();
}
$('pattern').value = new URLSearchParams(location.search).get('pattern') || '';
$('filter').addEventListener('submit', (event) => {
  event.preventDefault();
  const query = new URLSearchParams(location.search);
  const pattern = $('pattern').value.trim();
  if (pattern) query.set('pattern', pattern); else query.delete('pattern');
  history.replaceState(null, '', location.pathname + (query.toString() ? '?' + query : ''));
  refresh();
});
setInterval(tick, 100);
refresh();
`;
