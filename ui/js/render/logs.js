// Every member's log, one row each, as raft stored it: a cell per entry
// (index over term), coloured by the entry's term; dashed while not known
// committed, a bar under applied entries, a thick edge at the commit index,
// a hatched block for the prefix a snapshot replaced (§7). Rows line up by
// index, so a student sees logs agree, diverge and get repaired (§5.3).
//
// The panel is redrawn on every frame that brings events, so it keeps its
// elements (reconcile, shared with the storage panel) and changes only what
// changed: rebuilding nine rows of sixty cells each frame cost more in style
// and layout than the simulation step. A new entry's cell flashes.

import { t, language } from '../i18n.js';
import { nodeIds } from '../model/state.js';
import { termColor, darkTerm, roleWord } from './cluster.js';
import { reconcile } from './storage.js';
import { setAttr, setText } from '../dom.js';

/** At most this many cells per row; older entries scroll away. */
const MAX_CELLS = 60;

export function renderLogs(panel, state, view, helpers) {
  let v = panel.__logs;
  if (!v) {
    v = panel.__logs = { wrap: document.createElement('div'), legend: document.createElement('p'), rows: new Map(), helpers, first: true };
    v.wrap.className = 'logs';
    v.legend.className = 'log-legend';
    panel.replaceChildren(v.wrap, v.legend);
  }
  v.helpers = helpers;
  const lang = language();
  setText(v.legend, t('logs.legend'));
  const ids = nodeIds(state);
  let lo = Infinity;
  let hi = 0;
  for (const id of ids) {
    const n = state.nodes[id];
    lo = Math.min(lo, n.firstIndex);
    hi = Math.max(hi, n.lastIndex);
  }
  if (hi - lo + 1 > MAX_CELLS) lo = hi - MAX_CELLS + 1;
  reconcile(v.wrap, ids.map((id) => ({ key: String(id), id, sig: 0 })), v.rows, (it) => makeRow(v, it.id), () => {});
  const now = performance.now();
  for (const id of ids) {
    updateRow(v.rows.get(String(id)).el, state.nodes[id], id, lo, view, lang, now, v.first);
  }
  v.first = false;
}

function makeRow(v, id) {
  const row = document.createElement('div');
  row.className = 'log-row';
  row.dataset.nodeId = id;
  const who = document.createElement('div');
  who.className = 'who';
  who.textContent = `n${id}`;
  who.addEventListener('click', () => v.helpers.select(id));
  const cells = document.createElement('div');
  cells.className = 'cells';
  cells.setAttribute('role', 'list');
  row.append(who, cells);
  row.recs = new Map();
  return row;
}

function updateRow(row, n, id, lo, view, lang, now, quiet) {
  const [who, cells] = row.children;
  row.classList.toggle('selected', view.selected === id);
  row.classList.toggle('down', !n.up);
  setAttr(who, 'title', `${roleWord(n.up ? n.role : 'down')} · ${t('logs.commit', { commit: n.commit })} · ${t('logs.applied', { applied: n.applied })}`);
  setAttr(cells, 'aria-label', t('logs.aria', { id, first: n.firstIndex, last: n.lastIndex, commit: n.commit, applied: n.applied }));
  const items = [];
  if (n.firstIndex > 1) {
    const index = n.firstIndex - 1;
    items.push({ key: 'snap', snap: true, index, term: n.snapshot.term, sig: `${index}|${n.snapshot.term}|${lang}` });
  }
  // Align rows: blank space for indexes this member does not hold.
  for (let i = Math.max(lo, n.firstIndex); i <= n.lastIndex; i++) {
    const e = n.entries[i];
    if (!e) continue;
    const state = i <= n.applied ? 'applied' : i <= n.commit ? 'committed' : 'uncommitted';
    // seq: the cell flashes once, when it first appears.
    items.push({ key: `${i}:${e.term}`, index: i, entry: e, state, commit: i === n.commit, seq: 0, sig: `${state}|${i === n.commit}|${lang}|${e.type}|${e.data}` });
  }
  reconcile(cells, items, row.recs, makeCell, updateCell, { now, quiet });
}

function makeCell(it) {
  const el = document.createElement('div');
  const idx = document.createElement('span');
  idx.className = 'i';
  el.append(idx);
  if (it.snap) {
    el.className = 'cell snap';
    return el;
  }
  const e = it.entry;
  el.className = 'cell';
  el.setAttribute('role', 'listitem');
  el.dataset.index = it.index;
  el.dataset.term = e.term;
  el.style.background = termColor(e.term);
  if (darkTerm(e.term)) el.style.color = '#fff';
  idx.textContent = it.index;
  const term = document.createElement('span');
  term.textContent = `t${e.term}`;
  el.append(term);
  return el;
}

function updateCell(el, it) {
  if (it.snap) {
    el.firstChild.textContent = `≤${it.index}`;
    el.title = t('logs.snapshot', { index: it.index, term: it.term });
    return;
  }
  const e = it.entry;
  // classList, not className: the flash's class stays while it lasts.
  el.classList.toggle('uncommitted', it.state === 'uncommitted');
  el.classList.toggle('applied', it.state === 'applied');
  el.classList.toggle('commit', it.commit);
  el.classList.toggle('conf', e.type !== 'normal');
  el.classList.toggle('empty-entry', !e.data);
  const state = { applied: 'logs.isApplied', committed: 'logs.isCommitted', uncommitted: 'logs.isUncommitted' }[it.state];
  el.title = t('logs.entry', { index: it.index, term: e.term, data: e.data || t('logs.noop'), state: t(state) });
}
