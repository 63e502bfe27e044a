// The Ready pipeline of the selected member: the last Ready raft handed it
// (core.ReadyInfo) as the five steps of raft's contract, in order: persist
// the entries, HardState and snapshot in one batch; sync when MustSync (or a
// snapshot) says so; only then release the messages (Raft paper, Figure 2:
// persistent state is updated on stable storage before responding to RPCs);
// apply the committed entries; Advance. Steps that did something are
// highlighted, skipped ones dimmed and labelled so.

import { t, language } from '../i18n.js';
import { fmtTime } from '../config.js';
import { h, memberBar, memberRole, setText } from './storage.js';

/** The five steps, in the order the member carries them out. */
export const STEPS = ['persist', 'sync', 'send', 'apply', 'advance'];

/** How long ago something happened, for people: "just now", "120 ms ago", "3.4 s ago". */
export function agoText(ms) {
  if (!(ms >= 0.5)) return t('ready.agoNow');
  if (ms < 1000) return t('ready.agoMs', { ms: Math.round(ms) });
  return t('ready.agoS', { s: (ms / 1000).toFixed(ms < 10000 ? 1 : 0) });
}

/** A time on the timeline: virtual seconds in the simulator, the clock for a real cluster. */
export function timeText(ms, live) {
  return live || ms > 1e12 ? new Date(ms).toLocaleTimeString() : fmtTime(ms);
}

const range = (from, to, many, one) => (to > from ? t(many, { from, to, count: to - from + 1 }) : t(one, { from }));

/**
 * The steps of one Ready: [{id, active, lines: [text], why}], in STEPS
 * order. active says whether the step did something this time.
 * @param {import('../model/events.js').ReadyInfo} info
 */
export function readySteps(info) {
  const persist = [];
  if (info.snapshot) persist.push(t('ready.persist.snapshot', { index: info.snapshot }));
  if (info.entriesTo) persist.push(range(info.entriesFrom, info.entriesTo, 'ready.persist.entries', 'ready.persist.entry'));
  if (info.hardState) {
    const hs = info.hardState;
    persist.push(t('ready.persist.hardState', { term: hs.term, vote: hs.vote ? `n${hs.vote}` : t('panels.none'), commit: hs.commit }));
  }
  const persisted = persist.length > 0;
  if (!persisted) persist.push(t('ready.persist.none'));

  let sync;
  if (info.synced) sync = t(info.mustSync ? 'ready.sync.mustSync' : 'ready.sync.snapshot');
  else if (info.hardState && !info.entriesTo && !info.snapshot) sync = t('ready.sync.commitOnly');
  else sync = t('ready.sync.none');

  const send = info.messages > 1 ? t('ready.send.count', { count: info.messages })
    : info.messages === 1 ? t('ready.send.one') : t('ready.send.none');

  const apply = [];
  if (info.committedTo) apply.push(range(info.committedFrom, info.committedTo, 'ready.apply.range', 'ready.apply.one'));
  if (info.readStates) apply.push(t('ready.apply.reads', { count: info.readStates }));
  const applied = apply.length > 0;
  if (!applied) apply.push(t('ready.apply.none'));

  return [
    { id: 'persist', active: persisted, lines: persist, why: t('ready.persist.why') },
    { id: 'sync', active: !!info.synced, lines: [sync], why: t('ready.sync.why') },
    { id: 'send', active: info.messages > 0, lines: info.messages > 0 && persisted ? [send, t('ready.send.after')] : [send], why: t('ready.send.why') },
    { id: 'apply', active: applied, lines: apply, why: t('ready.apply.why') },
    { id: 'advance', active: true, lines: [t('ready.advance.done')], why: t('ready.advance.why') },
  ];
}

function build(panel) {
  const c = { lang: language() };
  c.title = h('span', { class: 'who' });
  c.role = h('span', { class: 'pnl-role' });
  c.bar = h('div', { class: 'member-bar' });
  c.when = h('p', { class: 'rdy-when' });
  c.none = h('p', { class: 'stg-empty' });
  c.steps = h('ol', { class: 'rdy-steps' });
  c.items = STEPS.map((id, i) => {
    const li = h('li', { class: 'rdy-step', 'data-step': id },
      h('span', { class: 'num', 'aria-hidden': 'true', text: String(i + 1) }),
      h('div', { class: 'body' },
        h('div', { class: 'rdy-top' }, h('b', { class: 'name', text: t(`ready.step.${id}`) }), h('span', { class: 'status' })),
        h('ul', { class: 'lines' }),
        h('p', { class: 'why' })));
    c.steps.appendChild(li);
    return { li, status: li.querySelector('.status'), lines: li.querySelector('.lines'), why: li.querySelector('.why'), sig: '' };
  });
  const contract = h('section', { class: 'rdy-contract', 'aria-label': t('ready.contract') },
    h('h4', { text: t('ready.contract') }),
    h('p', { text: t('ready.contract.intro') }),
    h('ol', {}, ...[1, 2, 3, 4].map((i) => h('li', { text: t(`ready.contract.${i}`) }))),
    h('p', { class: 'why', text: t('ready.contract.why') }));
  c.root = h('div', { class: 'rdy' },
    h('div', { class: 'pnl-head' }, h('h3', { class: 'pnl-title' }, c.title, ' ', c.role), c.bar),
    c.when, c.none, c.steps,
    h('p', { class: 'pnl-legend', text: t('ready.hint') }),
    contract);
  panel.replaceChildren(c.root);
  return c;
}

/**
 * renderReady draws the last Ready of the selected member.
 * @param {HTMLElement} panel
 * @param {object} state model (state.js)
 * @param {{t:number, selected:number, live?:boolean}} view
 * @param {{select:(id:number)=>void}} helpers
 */
export function renderReady(panel, state, view, helpers) {
  let c = panel.__ready;
  if (!c || c.lang !== language()) c = panel.__ready = build(panel);
  memberBar(c.bar, state, view.selected, helpers);
  const n = state.nodes[view.selected];
  const rd = n && (n.lastWork || n.ready);
  c.steps.hidden = !rd;
  c.when.hidden = !rd;
  c.none.hidden = !!rd;
  if (!n) {
    setText(c.title, '');
    setText(c.role, '');
    setText(c.none, t('panels.noMember'));
    return;
  }
  if (!rd) {
    setText(c.title, '');
    setText(c.role, '');
    setText(c.none, t('ready.none', { id: n.id }));
    return;
  }
  const info = rd.info;
  setText(c.title, t('ready.title', { number: info.number, id: n.id }));
  setText(c.role, t('panels.roleTerm', { role: memberRole(n), term: n.term }));
  let when = t('ready.when', { time: timeText(rd.at, view.live), ago: agoText(view.t - rd.at) });
  const since = n.ready.info.number - info.number;
  if (since > 0) when += ' ' + t('ready.sinceOnlySend', { count: since });
  setText(c.when, when);
  const steps = readySteps(info);
  steps.forEach((s, i) => {
    const it = c.items[i];
    const sig = `${s.active}|${s.lines.join('|')}`;
    if (sig === it.sig) return;
    it.sig = sig;
    it.li.dataset.active = String(s.active);
    it.li.classList.toggle('active', s.active);
    it.li.classList.toggle('skip', !s.active);
    it.status.textContent = t(s.active ? 'ready.did' : 'ready.skipped');
    it.lines.replaceChildren(...s.lines.map((x) => h('li', { text: x })));
    it.why.textContent = s.why;
  });
}
