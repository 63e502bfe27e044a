// The leader's view: what the leader of the highest term knows of each
// follower, raft's Progress (tracker.Progress): match and next (matchIndex
// and nextIndex of the paper's Figure 2), the replication state (probe,
// replicate, snapshot), the inflight window, whether it heard from the
// follower lately, paused, a snapshot on its way, learner; and a bar of how
// much of the leader's log each follower holds. With no leader it says so,
// and why.

import { t, language } from '../i18n.js';
import { leaderOf, nodeIds } from '../model/state.js';
import { setAttr, setStyle, setText } from '../dom.js';
import { h, reconcile } from './storage.js';

/** The members of a ConfState: voters, learners, and both sides of a joint configuration. */
export function confMembers(cs) {
  const s = new Set();
  if (!cs) return s;
  for (const k of ['voters', 'learners', 'votersOutgoing', 'learnersNext']) for (const id of cs[k] || []) s.add(id);
  return s;
}

/**
 * What the panel shows: {leader, term, last, commit, rows, stale, waiting}
 * with a leader, {leader: 0, campaigns, allDown} without.
 * rows: one per follower, sorted by id: the ProgressInfo fields plus frac
 * (match / leader's last index, 0..1), behind (entries missing) and down
 * (what the observer, not the leader, knows).
 */
export function leaderView(state) {
  const lead = leaderOf(state);
  const ids = nodeIds(state);
  if (!lead) {
    const campaigns = [];
    for (const id of ids) {
      const n = state.nodes[id];
      if (!n.up) continue;
      if (n.role === 'candidate') campaigns.push(t('progress.candidate', { id, term: n.term }));
      if (n.role === 'preCandidate') campaigns.push(t('progress.preCandidate', { id, term: n.term + 1 }));
    }
    return { leader: 0, campaigns, allDown: ids.length > 0 && ids.every((id) => !state.nodes[id].up) };
  }
  const L = state.nodes[lead];
  // Progress of a member the leader removed can linger in the model: show
  // only the members of the leader's configuration.
  const members = confMembers(L.confState);
  const last = L.lastIndex;
  const rows = Object.values(L.progress)
    .filter((p) => p.peer !== lead && (members.size === 0 || members.has(p.peer)))
    .sort((a, b) => a.peer - b.peer)
    .map((p) => {
      const peer = state.nodes[p.peer];
      return {
        ...p,
        key: String(p.peer),
        frac: last > 0 ? Math.max(0, Math.min(1, p.match / last)) : 1,
        behind: Math.max(0, last - p.match),
        down: !!peer && !peer.up,
      };
    });
  for (const r of rows) r.sig = JSON.stringify(r);
  const stale = ids.filter((id) => id !== lead && state.nodes[id].up && state.nodes[id].role === 'leader')
    .map((id) => ({ id, term: state.nodes[id].term }));
  // Right after an election the leader reports its followers at the end of
  // its first Ready: until then there are none to show, but there are some.
  const others = [...members].filter((id) => id !== lead).length;
  return { leader: lead, term: L.term, last, commit: L.commit, rows, stale, waiting: rows.length === 0 && others > 0 };
}

/** The text of a follower's bar: "12 of 14 · 2 behind". */
export function barText(r, last) {
  return `${t('progress.bar', { match: r.match, last })} · ${r.behind ? t('progress.behind', { count: r.behind }) : t('progress.upToDate')}`;
}

/** The columns of a follower's first line; the bar of its log is the second. */
const COLS = ['member', 'match', 'next', 'state', 'inflight', 'active', 'paused', 'snapshot', 'learner'];

const yesNo = (b) => t(b ? 'panels.yes' : 'panels.no');

function build(panel, helpers) {
  const c = { lang: language(), rows: new Map(), helpers };
  c.title = h('span', { class: 'who' });
  c.summary = h('span', { class: 'pnl-role' });
  c.intro = h('p', { class: 'pnl-intro', text: t('progress.intro') });
  c.none = h('div', { class: 'pg-none', role: 'status' });
  c.stale = h('div', { class: 'pg-stale' });
  // One tbody per follower (its numbers, then the bar of its log), keyed by id.
  c.thead = h('thead', {}, h('tr', {}, ...COLS.map((k) => h('th', { scope: 'col', class: `c-${k}`, title: k === 'member' ? null : t(`progress.why.${k}`), text: t(`progress.col.${k}`) }))));
  c.table = h('table', { class: 'pg-table' }, c.thead);
  c.noFollowers = h('p', { class: 'stg-empty', text: t('progress.noFollowers') });
  c.table.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-node]');
    if (b) c.helpers.select(Number(b.dataset.node));
  });
  const dl = h('dl', { class: 'pg-states' });
  for (const s of ['probe', 'replicate', 'snapshot']) {
    dl.append(h('dt', {}, h('span', { class: `pg-state ${s}`, text: t(`progress.state.${s}`) })), h('dd', { text: t(`progress.state.${s}Why`) }));
  }
  const help = h('section', { class: 'pg-help' },
    h('h4', { text: t('progress.statesTitle') }), dl,
    h('ul', { class: 'pg-why' }, ...['match', 'next', 'inflight', 'active', 'paused', 'snapshot', 'learner', 'log'].map((k) => h('li', { text: t(`progress.why.${k}`) }))));
  c.main = h('div', {}, c.intro, c.stale, c.table, c.noFollowers, help);
  c.root = h('div', { class: 'pg' },
    h('div', { class: 'pnl-head' }, h('h3', { class: 'pnl-title' }, c.title, ' ', c.summary)),
    c.none, c.main);
  panel.replaceChildren(c.root);
  return c;
}

/** The flag columns: a yes or no, each with why it matters as its title. */
const FLAGS = ['active', 'paused', 'learner'];

// A follower's row keeps its parts and writes only what changed: while a
// cluster plays, every new entry changes every follower's match and next,
// and rebuilding the row's buttons and chips each time cost the frame its
// style and layout.
function makeRow(r) {
  const td = Object.fromEntries(COLS.map((k) => [k, h('td', { class: `c-${k}`, 'data-label': t(`progress.col.${k}`) })]));
  const p = {
    td,
    // A row is keyed by its follower: its button never changes.
    member: h('button', { type: 'button', class: 'linkish', 'data-node': r.peer, text: `n${r.peer}` }),
    down: h('span', { class: 'pg-down', text: t('progress.down') }),
    state: h('span'),
    flags: {},
    fill: h('span', { class: 'fill' }),
    tick: h('span', { class: 'tick', 'aria-hidden': 'true' }),
    text: h('span', { class: 'pg-bar-txt' }),
  };
  td.member.append(p.member);
  td.state.append(p.state);
  for (const k of FLAGS) {
    p.flags[k] = h('span');
    td[k].append(p.flags[k]);
    td[k].title = t(`progress.why.${k}`);
  }
  td.snapshot.title = t('progress.why.snapshot');
  p.bar = h('span', { class: 'pg-bar', role: 'img', title: t('progress.why.log') }, p.fill, p.tick);
  const tb = h('tbody', { class: 'pg-follower' },
    h('tr', { class: 'pg-main' }, ...COLS.map((k) => td[k])),
    h('tr', { class: 'pg-logrow' }, h('td', { colspan: String(COLS.length) },
      h('div', { class: 'pg-log' }, h('span', { class: 'pg-log-label', text: t('progress.col.log') }), p.bar, p.text))));
  tb.__pg = p;
  return tb;
}

function updateRow(tb, r, v) {
  const p = tb.__pg;
  tb.classList.toggle('down', r.down);
  tb.classList.toggle('learner', !!r.learner);
  setAttr(tb, 'data-state', r.state);
  if (p.isDown !== r.down) {
    p.isDown = r.down;
    p.td.member.replaceChildren(p.member, ...(r.down ? [' ', p.down] : []));
  }
  setText(p.td.match, String(r.match));
  setText(p.td.next, String(r.next));
  setAttr(p.state, 'class', `pg-state ${r.state}`);
  setAttr(p.state, 'title', `${t(`progress.state.${r.state}`)}: ${t(`progress.state.${r.state}Why`)}`);
  setText(p.state, t(`progress.state.${r.state}`));
  setText(p.td.inflight, String(r.inflight || 0));
  const flag = (k, on, bad) => {
    setAttr(p.flags[k], 'class', `pg-flag ${on ? 'on' : 'off'}${bad ? ' bad' : ''}`);
    setText(p.flags[k], yesNo(on));
  };
  flag('active', r.recentActive, !r.recentActive);
  flag('paused', r.paused, r.paused);
  flag('learner', !!r.learner, false);
  setText(p.td.snapshot, r.pendingSnapshot ? t('progress.pending', { index: r.pendingSnapshot }) : '–');
  const text = barText(r, v.last);
  setAttr(p.bar, 'aria-label', text);
  setStyle(p.fill, 'width', `${(r.frac * 100).toFixed(1)}%`);
  setStyle(p.tick, 'left', `${(v.last ? Math.min(1, v.commit / v.last) * 100 : 100).toFixed(1)}%`);
  setText(p.text, text);
}

/**
 * renderProgress draws the leader's view of its followers.
 * @param {HTMLElement} panel
 * @param {object} state model (state.js)
 * @param {object} view
 * @param {{select:(id:number)=>void}} helpers
 */
export function renderProgress(panel, state, view, helpers) {
  let c = panel.__progress;
  if (!c || c.lang !== language()) c = panel.__progress = build(panel, helpers);
  c.helpers = helpers;
  const v = leaderView(state);
  c.none.hidden = !!v.leader;
  c.main.hidden = !v.leader;
  if (!v.leader) {
    setText(c.title, t('progress.none'));
    setText(c.summary, '');
    const lines = [t('progress.noneWhy')];
    if (v.allDown) lines.unshift(t('progress.allDown'));
    else if (v.campaigns.length) lines.unshift(t('progress.campaigning', { who: v.campaigns.join('; ') }));
    const sig = lines.join('|');
    if (c.noneSig !== sig) {
      c.noneSig = sig;
      c.none.replaceChildren(...lines.map((x, i) => h('p', { class: i === lines.length - 1 ? 'why' : '', text: x })));
    }
    return;
  }
  setText(c.title, t('progress.title', { id: v.leader, term: v.term }));
  setText(c.summary, t('progress.summary', { last: v.last, commit: v.commit }));
  const staleSig = v.stale.map((s) => `${s.id}:${s.term}`).join();
  if (c.staleSig !== staleSig) {
    c.staleSig = staleSig;
    c.stale.replaceChildren(...v.stale.map((s) => h('p', { class: 'pg-stale-line', text: t('progress.stale', { id: s.id, term: s.term, newer: v.term }) })));
  }
  // The bar depends on the leader's last and commit indexes too.
  const items = v.rows.map((r) => ({ ...r, sig: `${r.sig}|${v.last}|${v.commit}` }));
  reconcile(c.table, items, c.rows, makeRow, (tb, r) => updateRow(tb, r, v), { after: c.thead });
  c.table.hidden = items.length === 0;
  c.noFollowers.hidden = items.length > 0;
  setText(c.noFollowers, t(v.waiting ? 'progress.waiting' : 'progress.noFollowers'));
}
