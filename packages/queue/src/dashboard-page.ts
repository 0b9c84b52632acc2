// The dashboard's page, style and script, served as three static answers. The script builds
// every cell with textContent (never innerHTML), so no queue name, id or error can inject
// markup; the page's Content-Security-Policy allows scripts and styles from the page only.

/** The HTML page; `base` (the mount path, HTML-escaped) is where its assets and API live. */
export function dashboardHtml(base: string, title: string, refreshMs: number): string {
  const b = escapeHtml(base)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${b}/app.css">
<script type="module" src="${b}/app.js"></script>
</head>
<body data-base="${b}" data-refresh="${refreshMs}">
<header><h1>${escapeHtml(title)}</h1><span id="status" role="status"></span></header>
<main>
<table id="queues">
<thead><tr><th>Queue</th><th>Waiting</th><th>Active</th><th>Delayed</th><th>Failed</th><th>Dead</th><th>Completed</th><th>Throughput</th></tr></thead>
<tbody></tbody>
</table>
<section id="dlq" hidden>
<h2>Dead letters of <span id="dlq-queue"></span></h2>
<p><button type="button" id="retry-all">Retry all</button> <button type="button" id="purge-all">Purge all</button></p>
<table>
<thead><tr><th>Id</th><th>Attempts</th><th>Reason</th><th>Last error</th><th>Dead since</th><th></th></tr></thead>
<tbody id="dead"></tbody>
</table>
</section>
</main>
</body>
</html>
`
}

export const dashboardCss = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{display:flex;gap:1rem;align-items:baseline;padding:.75rem 1.25rem;background:#1d2430;color:#fff}
h1{font-size:1.1rem;margin:0}h2{font-size:1rem}#status{opacity:.8}
main{padding:1rem 1.25rem}table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e6ea}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.queue{cursor:pointer}tr.queue:hover,tr.selected{background:#eef3ff}td.error{max-width:32rem;overflow-wrap:anywhere;color:#8a1f11}
button{cursor:pointer}
`

export const dashboardJs = `const body = document.body
const base = body.dataset.base
const refreshMs = Number(body.dataset.refresh) || 2000
const headers = { 'x-beaver-dashboard': '1' }
const last = new Map()
let selected
const status = document.getElementById('status')

function cell(text, cls) {
  const td = document.createElement('td')
  td.textContent = String(text)
  if (cls) td.className = cls
  return td
}

async function call(path, method = 'GET') {
  const res = await fetch(base + path, { method, headers, credentials: 'same-origin' })
  if (!res.ok) throw new Error(method + ' ' + path + ': ' + res.status)
  return res.json()
}

function throughput(name, counts, at) {
  const done = counts.completed + counts.dead
  const prev = last.get(name)
  last.set(name, { done, at })
  if (!prev || at <= prev.at) return '-'
  return (Math.max(0, done - prev.done) / ((at - prev.at) / 1000)).toFixed(1) + '/s'
}

async function refresh() {
  try {
    const { queues } = await call('/api/queues')
    const at = Date.now()
    const tbody = document.querySelector('#queues tbody')
    tbody.replaceChildren(...queues.map((q) => {
      const tr = document.createElement('tr')
      tr.className = 'queue' + (q.name === selected ? ' selected' : '')
      tr.dataset.queue = q.name
      tr.append(cell(q.name))
      for (const k of ['waiting', 'active', 'delayed', 'failed', 'dead', 'completed']) {
        const td = cell(q.counts[k], 'n')
        td.dataset.count = k
        tr.append(td)
      }
      const rate = cell(throughput(q.name, q.counts, at), 'n')
      rate.dataset.count = 'throughput'
      tr.append(rate)
      tr.addEventListener('click', () => { selected = q.name; void refresh() })
      return tr
    }))
    if (selected !== undefined) await showDead(selected)
    status.textContent = 'updated ' + new Date(at).toLocaleTimeString()
  } catch (error) {
    status.textContent = String(error.message || error)
  }
}

async function showDead(name) {
  const { messages } = await call('/api/queues/' + encodeURIComponent(name) + '/dead?limit=100')
  document.getElementById('dlq').hidden = false
  document.getElementById('dlq-queue').textContent = name
  document.getElementById('dead').replaceChildren(...messages.map((m) => {
    const tr = document.createElement('tr')
    tr.dataset.id = m.id
    tr.append(cell(m.id), cell(m.attempt, 'n'), cell(m.deadReason ?? ''), cell(m.lastError ?? '', 'error'),
      cell(m.finishedAt ? new Date(m.finishedAt).toLocaleString() : ''))
    const td = document.createElement('td')
    td.append(button('Retry', 'retry', name, m.id), ' ', button('Purge', 'purge', name, m.id))
    tr.append(td)
    return tr
  }))
}

function button(label, action, name, id) {
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = label
  b.dataset.action = action
  b.addEventListener('click', () => act(name, id, action))
  return b
}

async function act(name, id, action) {
  const path = '/api/queues/' + encodeURIComponent(name) + '/dead' + (id === undefined ? '' : '/' + encodeURIComponent(id))
  try {
    await call(path + '/' + action, 'POST')
  } catch (error) {
    status.textContent = String(error.message || error)
  }
  await refresh()
}

document.getElementById('retry-all').addEventListener('click', () => selected !== undefined && act(selected, undefined, 'retry'))
document.getElementById('purge-all').addEventListener('click', () => selected !== undefined && act(selected, undefined, 'purge'))
void refresh()
setInterval(refresh, refreshMs)
`

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  )
}
