// Every member's log, one row each, as raft stored it: a cell per entry
// (index over term), coloured by the entry's term; dashed while not known
// committed, a bar under applied entries, a thick edge at the commit index,
// a hatched block for the prefix a snapshot replaced (§7). Rows line up by
// index, so a student sees logs agree, diverge and get repaired (§5.3).

import { t } from '../i18n.js';
import { nodeIds } from '../model/state.js';
import { termColor, darkTerm, roleWord } from './cluster.js';

/** At most this many cells per row; older entries scroll away. */
const MAX_CELLS = 60;

export function renderLogs(panel, state, view, helpers) {
  const ids = nodeIds(state);
  let lo = Infinity;
  let hi = 0;
  for (const id of ids) {
    const n = state.nodes[id];
    lo = Math.min(lo, n.firstIndex);
    hi = Math.max(hi, n.lastIndex);
  }
  if (hi - lo + 1 > MAX_CELLS) lo = hi - MAX_CELLS + 1;
  const prev = panel.__prev || {};
  const wrap = document.createElement('div');
  wrap.className = 'logs';
  for (const id of ids) {
    const n = state.nodes[id];
    const row = document.createElement('div');
    row.className = `log-row${view.selected === id ? ' selected' : ''}${n.up ? '' : ' down'}`;
    row.dataset.nodeId = id;
    const who = document.createElement('div');
    who.className = 'who';
    who.textContent = `n${id}`;
    who.title = `${roleWord(n.up ? n.role : 'down')} · ${t('logs.commit', { commit: n.commit })} · ${t('logs.applied', { applied: n.applied })}`;
    who.addEventListener('click', () => helpers.select(id));
    const cells = document.createElement('div');
    cells.className = 'cells';
    cells.setAttribute('role', 'list');
    cells.setAttribute('aria-label', t('logs.aria', { id, first: n.firstIndex, last: n.lastIndex, commit: n.commit, applied: n.applied }));
    if (n.firstIndex > 1) {
      const snap = document.createElement('div');
      snap.className = 'cell snap';
      snap.title = t('logs.snapshot', { index: n.firstIndex - 1, term: n.snapshot.term });
      snap.innerHTML = `<span class="i">≤${n.firstIndex - 1}</span>`;
      cells.appendChild(snap);
    }
    // Align rows: blank space for indexes this member does not hold.
    for (let i = Math.max(lo, n.firstIndex); i <= n.lastIndex; i++) {
      const e = n.entries[i];
      if (!e) continue;
      const c = document.createElement('div');
      c.setAttribute('role', 'listitem');
      let cls = 'cell';
      if (i > n.commit) cls += ' uncommitted';
      if (i <= n.applied) cls += ' applied';
      if (i === n.commit) cls += ' commit';
      if (e.type !== 'normal') cls += ' conf';
      if (!e.data) cls += ' empty-entry';
      const k = `${id}:${i}:${e.term}`;
      if (!prev[k]) cls += ' new';
      c.className = cls;
      c.dataset.index = i;
      c.dataset.term = e.term;
      c.style.background = termColor(e.term);
      if (darkTerm(e.term)) c.style.color = '#fff';
      c.innerHTML = `<span class="i">${i}</span><span>t${e.term}</span>`;
      c.title = t('logs.entry', { index: i, term: e.term, data: e.data || t('logs.noop'), state: i <= n.applied ? t('logs.isApplied') : i <= n.commit ? t('logs.isCommitted') : t('logs.isUncommitted') });
      cells.appendChild(c);
    }
    row.append(who, cells);
    wrap.appendChild(row);
  }
  const seen = {};
  for (const id of ids) {
    const n = state.nodes[id];
    for (const i in n.entries) seen[`${id}:${i}:${n.entries[i].term}`] = true;
  }
  panel.__prev = seen;
  const legend = document.createElement('p');
  legend.className = 'log-legend';
  legend.textContent = t('logs.legend');
  panel.replaceChildren(wrap, legend);
}
