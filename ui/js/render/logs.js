// Every member's log, one row each, as raft stored it: a cell per entry
// (index over term), coloured by the entry's term; dashed while not known
// committed, a bar under applied entries, a thick edge at the commit index,
// a hatched block for the prefix a snapshot replaced (§7). Rows line up by
// index, so a student sees logs agree, diverge and get repaired (§5.3).
//
// The panel is redrawn on every frame that brings events, so it keeps its
// elements and changes only what changed: rebuilding nine rows of sixty
// cells each frame cost more in style and layout than the simulation step.

import { t, language } from '../i18n.js';
import { nodeIds } from '../model/state.js';
import { termColor, darkTerm, roleWord } from './cluster.js';

/** At most this many cells per row; older entries scroll away. */
const MAX_CELLS = 60;
/** How long a new entry's cell is marked new (its flash, app.css). */
const NEW_MS = 900;

export function renderLogs(panel, state, view, helpers) {
  let v = panel.__logs;
  if (!v) {
    v = panel.__logs = newView();
    const legend = document.createElement('p');
    legend.className = 'log-legend';
    panel.replaceChildren(v.wrap, legend);
    v.legend = legend;
  }
  v.helpers = helpers;
  const lang = language();
  setProp(v.legend, 'textContent', t('logs.legend'));
  const ids = nodeIds(state);
  let lo = Infinity;
  let hi = 0;
  for (const id of ids) {
    const n = state.nodes[id];
    lo = Math.min(lo, n.firstIndex);
    hi = Math.max(hi, n.lastIndex);
  }
  if (hi - lo + 1 > MAX_CELLS) lo = hi - MAX_CELLS + 1;
  const now = performance.now();
  const rows = [];
  for (const id of ids) {
    const r = v.rows.get(id) || newRow(v, id);
    updateRow(r, state.nodes[id], id, lo, view, lang, now, v.first);
    rows.push(r.row);
  }
  for (const id of v.rows.keys()) if (!state.nodes[id]) v.rows.delete(id);
  sync(v.wrap, rows);
  v.first = false;
}

function newView() {
  const wrap = document.createElement('div');
  wrap.className = 'logs';
  return { wrap, legend: null, rows: new Map(), helpers: null, first: true };
}

function newRow(v, id) {
  const row = document.createElement('div');
  row.dataset.nodeId = id;
  const who = document.createElement('div');
  who.className = 'who';
  who.textContent = `n${id}`;
  who.addEventListener('click', () => v.helpers.select(id));
  const cells = document.createElement('div');
  cells.className = 'cells';
  cells.setAttribute('role', 'list');
  row.append(who, cells);
  const r = { row, who, cells, snap: null, byKey: new Map() };
  v.rows.set(id, r);
  return r;
}

function updateRow(r, n, id, lo, view, lang, now, first) {
  setProp(r.row, 'className', `log-row${view.selected === id ? ' selected' : ''}${n.up ? '' : ' down'}`);
  setProp(r.who, 'title', `${roleWord(n.up ? n.role : 'down')} · ${t('logs.commit', { commit: n.commit })} · ${t('logs.applied', { applied: n.applied })}`);
  setAttr(r.cells, 'aria-label', t('logs.aria', { id, first: n.firstIndex, last: n.lastIndex, commit: n.commit, applied: n.applied }));
  const cells = [];
  if (n.firstIndex > 1) {
    if (!r.snap) {
      r.snap = document.createElement('div');
      r.snap.className = 'cell snap';
      const i = document.createElement('span');
      i.className = 'i';
      r.snap.append(i);
    }
    setProp(r.snap.firstChild, 'textContent', `≤${n.firstIndex - 1}`);
    setProp(r.snap, 'title', t('logs.snapshot', { index: n.firstIndex - 1, term: n.snapshot.term }));
    cells.push(r.snap);
  }
  // Align rows: blank space for indexes this member does not hold.
  const keep = new Map();
  for (let i = Math.max(lo, n.firstIndex); i <= n.lastIndex; i++) {
    const e = n.entries[i];
    if (!e) continue;
    const k = `${i}:${e.term}`;
    let c = r.byKey.get(k);
    if (!c) c = newCell(i, e, first ? 0 : now);
    keep.set(k, c);
    updateCell(c, i, e, n, lang, now);
    cells.push(c.el);
  }
  r.byKey = keep;
  sync(r.cells, cells);
}

function newCell(i, e, bornAt) {
  const el = document.createElement('div');
  el.setAttribute('role', 'listitem');
  el.dataset.index = i;
  el.dataset.term = e.term;
  el.style.background = termColor(e.term);
  if (darkTerm(e.term)) el.style.color = '#fff';
  const idx = document.createElement('span');
  idx.className = 'i';
  idx.textContent = i;
  const term = document.createElement('span');
  term.textContent = `t${e.term}`;
  el.append(idx, term);
  return { el, bornAt, sig: '' };
}

function updateCell(c, i, e, n, lang, now) {
  let cls = 'cell';
  if (i > n.commit) cls += ' uncommitted';
  if (i <= n.applied) cls += ' applied';
  if (i === n.commit) cls += ' commit';
  if (e.type !== 'normal') cls += ' conf';
  if (!e.data) cls += ' empty-entry';
  if (c.bornAt && now - c.bornAt < NEW_MS) cls += ' new';
  const sig = `${cls}|${lang}|${e.type}|${e.data}`;
  if (sig === c.sig) return;
  c.sig = sig;
  c.el.className = cls;
  c.el.title = t('logs.entry', { index: i, term: e.term, data: e.data || t('logs.noop'), state: i <= n.applied ? t('logs.isApplied') : i <= n.commit ? t('logs.isCommitted') : t('logs.isUncommitted') });
}

// sync makes want the children of parent, moving as few as it can: a log
// row mostly gains cells at its end and loses them at its start.
function sync(parent, want) {
  const have = parent.children;
  let same = have.length === want.length;
  for (let i = 0; same && i < want.length; i++) same = have[i] === want[i];
  if (same) return;
  // Drop leading children that are not wanted, then append what is missing
  // at the end, if the rest already lines up.
  const first = want.length ? want[0] : null;
  let drop = 0;
  while (drop < have.length && have[drop] !== first) drop++;
  if (drop < have.length || !want.length) {
    let k = drop;
    let j = 0;
    while (k < have.length && j < want.length && have[k] === want[j]) { k++; j++; }
    if (k === have.length) {
      while (drop-- > 0) parent.firstElementChild.remove();
      if (j < want.length) parent.append(...want.slice(j));
      return;
    }
  }
  parent.replaceChildren(...want);
}

function setProp(el, prop, value) {
  if (el[prop] !== value) el[prop] = value;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}
