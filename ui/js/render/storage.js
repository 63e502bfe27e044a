// The storage panel: what one member has written to its key-value store,
// decoded for people. First raft's seven keys (DESIGN.md, storage/keys.go)
// in their fixed order, then the state machine (/members/, /kv/). The store
// is all a crash leaves behind, so every row says where its last write is:
// on disk (synced), only in the page cache (a crash loses it), or lost by a
// crash. Rows are keyed by data-key and updated in place; a row lights up
// the moment its key is written (its event seq changes).
//
// The formatting is pure functions (storageModel and friends, tested under
// node); renderStorage only reconciles the DOM with what they return. The
// small DOM helpers at the end (h, reconcile, memberBar, termChip) are
// shared with the Ready and Leader's view panels.

import { t, language } from '../i18n.js';
import { nodeIds } from '../model/state.js';
import { RAFT_KEYS } from '../model/events.js';
import { termColor, darkTerm, roleWord } from './cluster.js';
import { setText } from '../dom.js';

export const ENTRY_PREFIX = '/raft/entry/';
/** The row that stands for the whole entry family (RAFT_KEYS spells it so). */
export const ENTRY_FAMILY = '/raft/entry/{idx}';
/** Entries shown at most; older ones are counted, not drawn. */
export const ENTRY_WINDOW = 30;
/** State machine keys shown at most. */
export const MAX_SM_KEYS = 60;
/** How long a changed row stays highlighted (real ms). */
export const FLASH_MS = 1600;

const MEMBERS_PREFIX = '/members/';
const KV_PREFIX = '/kv/';

// --- pure: what the panel shows ---

/** The name under which a key's explanation is filed: first_index, entry, kv, ... */
export function keyName(key) {
  if (key.startsWith(ENTRY_PREFIX)) return 'entry';
  if (key.startsWith(MEMBERS_PREFIX)) return 'members';
  if (key.startsWith(KV_PREFIX)) return 'kv';
  return key.slice('/raft/'.length);
}

/** One line on why raft (or the node) keeps key, with the paper's section. */
export function keyWhy(key) {
  return t(`storage.why.${keyName(key)}`);
}

/**
 * The keys whose last write is not yet on disk. The model's `unsynced`
 * list is the truth: a synced batch makes every earlier write durable, so
 * `keys[k].synced === false` alone goes stale once a later synced batch
 * covers the write.
 */
export function cachedKeys(n) {
  if (Array.isArray(n.unsynced)) return new Set(n.unsynced);
  return new Set(Object.keys(n.keys).filter((k) => n.keys[k].synced === false));
}

/**
 * Where the last write of key on member n is: 'disk' (synced), 'cache'
 * (written, not yet synced), 'lost' (a crash rolled it back) or 'none'
 * (never written).
 */
export function durability(n, key, cache = cachedKeys(n), lost = new Set(n.lost || [])) {
  if (lost.has(key)) return 'lost';
  if (!n.keys[key]) return 'none';
  return cache.has(key) ? 'cache' : 'disk';
}

const memberList = (xs) => (xs && xs.length ? xs.map((x) => `n${x}`).join(' ') : t('panels.none'));

/** The fields of a ConfState, only those that are set. */
export function confParts(cs) {
  if (!cs) return [];
  const p = [{ l: t('storage.f.voters'), v: memberList(cs.voters) }];
  if (cs.learners?.length) p.push({ l: t('storage.f.learners'), v: memberList(cs.learners) });
  if (cs.votersOutgoing?.length) p.push({ l: t('storage.f.outgoing'), v: memberList(cs.votersOutgoing) });
  if (cs.learnersNext?.length) p.push({ l: t('storage.f.learnersNext'), v: memberList(cs.learnersNext) });
  if (cs.autoLeave) p.push({ l: t('storage.f.autoLeave'), v: t('storage.f.autoLeaveOn') });
  return p;
}

/** The words for an entry's type. */
export function entryType(type) {
  return t(`storage.type.${type || 'normal'}`);
}

/**
 * A decoded value (storage/values.go) as labelled fields for people:
 * [{l: label (optional), v: text, term: set when v is a term, w: true
 * when v is words rather than a value}].
 * n, when given, adds what the member's other keys tell (an empty log).
 */
export function valueParts(key, v, n) {
  if (v === null || v === undefined) return [];
  switch (key) {
    case '/raft/first_index':
      return [
        { l: t('storage.f.index'), v: String(v.index) },
        v.index > 1
          ? { l: t('storage.f.prevTerm', { prev: v.index - 1 }), v: String(v.prevTerm), term: v.prevTerm }
          : { v: t('storage.f.nothingBefore'), w: true },
      ];
    case '/raft/last_index': {
      const p = [{ l: t('storage.f.index'), v: String(v.index) }];
      if (n && v.index > 0 && v.index < n.firstIndex) p.push({ v: t('storage.logEmpty'), w: true });
      return p;
    }
    case '/raft/hard_state':
      return [
        { l: t('storage.f.term'), v: String(v.term), term: v.term },
        { l: t('storage.f.vote'), v: v.vote ? `n${v.vote}` : t('panels.none') },
        { l: t('storage.f.commit'), v: String(v.commit) },
      ];
    case '/raft/conf_state':
      return confParts(v);
    case '/raft/uncommit_index': {
      const count = v.last - v.applied;
      return [
        { v: `(${v.applied}, ${v.last}]` },
        { v: t(count > 1 ? 'storage.uncommitCount' : count === 1 ? 'storage.uncommitOne' : 'storage.uncommitEmpty', { count }), w: true },
      ];
    }
    case '/raft/snapshot':
      if (!v.index) return [{ v: t('storage.noSnapshot'), w: true }];
      return [
        { l: t('storage.f.index'), v: String(v.index) },
        { l: t('storage.f.term'), v: String(v.term), term: v.term },
        ...confParts(v.confState),
        // A snapshot this member took holds no copy: its state machine
        // is the data (thesis §5.2); one it received holds what it got.
        { l: t('storage.f.size'), v: v.size ? t('storage.bytes', { size: v.size }) : t('storage.snapshotInPlace') },
      ];
    default:
      if (key.startsWith(ENTRY_PREFIX)) {
        return [
          { l: t('storage.f.index'), v: String(v.index) },
          { l: t('storage.f.term'), v: String(v.term), term: v.term },
          { v: entryType(v.type), w: true },
          { v: v.data || t('storage.noop'), w: !v.data },
        ];
      }
      if (key.startsWith(KV_PREFIX)) return [{ v: JSON.stringify(String(v)) }];
      return [{ v: typeof v === 'string' ? v : JSON.stringify(v) }];
  }
}

/** Fields as one line of text (titles, screen readers, tests). */
export function partsText(parts) {
  return parts.map((p) => (p.l ? `${p.l} ${p.v}` : p.v)).join(' · ');
}

/** Why an entry key was deleted: compacted below first_index, truncated above last_index. */
function deletedNote(n, key) {
  if (!key.startsWith(ENTRY_PREFIX)) return t('storage.deleted');
  const i = Number(key.slice(ENTRY_PREFIX.length));
  if (i < n.firstIndex) return t('storage.deletedCompacted');
  if (i > n.lastIndex) return t('storage.deletedTruncated');
  return t('storage.deleted');
}

/**
 * One row of the panel for key: {key, disk, seq, parts, note, deleted, sig}.
 * note is set when there is no value to show, or, for a write a crash
 * rolled back, to say the value shown is the one on disk.
 */
export function keyRow(n, key, cache, lost) {
  const k = n.keys[key];
  const disk = durability(n, key, cache, lost);
  const row = { key, disk, seq: k ? k.seq : -1, parts: [], note: '', deleted: !!(k && k.deleted) };
  if (!k) row.note = disk === 'lost' ? t('storage.lostValue') : t('storage.notWritten');
  else if (k.deleted) row.note = deletedNote(n, key);
  else {
    row.parts = valueParts(key, k.value, n);
    if (disk === 'lost') row.note = t('storage.rolledBack');
  }
  row.sig = `${disk}|${row.deleted}|${row.note}|${partsText(row.parts)}`;
  return row;
}

const entryIndex = (key) => Number(key.slice(ENTRY_PREFIX.length));

/**
 * The entry rows: the stored entries, plus entry keys whose last write is a
 * delete still in the page cache or a write a crash lost; the newest `max`
 * of them in log order. older counts the rows left out, [olderFrom, olderTo].
 */
export function entryRows(n, max = ENTRY_WINDOW, cache = cachedKeys(n), lost = new Set(n.lost || [])) {
  const idx = new Set();
  let stored = 0;
  let first = 0;
  let last = 0;
  for (const i in n.entries) {
    const x = Number(i);
    idx.add(x);
    stored++;
    if (!first || x < first) first = x;
    if (x > last) last = x;
  }
  for (const k of cache) if (k.startsWith(ENTRY_PREFIX) && n.keys[k]?.deleted) idx.add(entryIndex(k));
  for (const k of lost) if (k.startsWith(ENTRY_PREFIX)) idx.add(entryIndex(k));
  const all = [...idx].sort((a, b) => a - b);
  const shown = all.slice(-max);
  const older = all.length - shown.length;
  const rows = shown.map((i) => {
    const key = ENTRY_PREFIX + i;
    const k = n.keys[key];
    const e = n.entries[i];
    const disk = durability(n, key, cache, lost);
    const row = { key, index: i, disk, seq: k ? k.seq : -1, deleted: !e, entry: e || null, note: '' };
    if (!e) row.note = k && k.deleted ? deletedNote(n, key) : t('storage.lostValue');
    else if (disk === 'lost') row.note = t('storage.rolledBack');
    row.sig = `${disk}|${row.note}|${e ? `${e.term}|${e.type}|${e.data || ''}` : ''}`;
    return row;
  });
  return { rows, older, olderFrom: older ? all[0] : 0, olderTo: older ? all[older - 1] : 0, stored, first, last };
}

/** The family row /raft/entry/{idx}: a summary of the entries below it. */
function familyRow(ents, cache, lost) {
  let seq = -1;
  let disk = ents.stored ? 'disk' : 'none';
  for (const r of ents.rows) {
    seq = Math.max(seq, r.seq);
    if (r.disk === 'lost') disk = 'lost';
    else if (r.disk === 'cache' && disk !== 'lost') disk = 'cache';
  }
  // A lost or cached write outside the window still counts.
  for (const k of lost) if (k.startsWith(ENTRY_PREFIX)) disk = 'lost';
  if (disk !== 'lost') for (const k of cache) if (k.startsWith(ENTRY_PREFIX)) disk = 'cache';
  const note = ents.stored ? '' : t('storage.entriesNone');
  const parts = ents.stored ? [{ v: t(ents.stored > 1 ? 'storage.entriesCount' : 'storage.entriesOne', { count: ents.stored, first: ents.first, last: ents.last }), w: true }] : [];
  return { key: ENTRY_FAMILY, disk, seq, parts, note, deleted: false, family: true, sig: `${disk}|${note}|${partsText(parts)}` };
}

const smOrder = (a, b) => {
  const am = a.startsWith(MEMBERS_PREFIX);
  const bm = b.startsWith(MEMBERS_PREFIX);
  if (am !== bm) return am ? -1 : 1;
  if (am) return Number(a.slice(MEMBERS_PREFIX.length)) - Number(b.slice(MEMBERS_PREFIX.length));
  return a < b ? -1 : a > b ? 1 : 0;
};

/**
 * The state machine's rows: member addresses, then the key-value map in key
 * order. A delete shows while it is only in the page cache; a lost write
 * shows until the member restarts.
 */
export function smRows(n, cache = cachedKeys(n), lost = new Set(n.lost || []), max = MAX_SM_KEYS) {
  const keys = [];
  for (const k in n.keys) {
    if (!k.startsWith(KV_PREFIX) && !k.startsWith(MEMBERS_PREFIX)) continue;
    if (!n.keys[k].deleted || cache.has(k) || lost.has(k)) keys.push(k);
  }
  for (const k of lost) if (!n.keys[k] && (k.startsWith(KV_PREFIX) || k.startsWith(MEMBERS_PREFIX))) keys.push(k);
  keys.sort(smOrder);
  return { rows: keys.slice(0, max).map((k) => keyRow(n, k, cache, lost)), more: Math.max(0, keys.length - max) };
}

/**
 * Everything the panel shows for member n: the seven raft keys in
 * RAFT_KEYS order, the entries, the state machine, and how many keys are
 * only in the page cache (up) or were lost (down).
 */
export function storageModel(n) {
  const cache = cachedKeys(n);
  const lost = new Set(n.lost || []);
  const entries = entryRows(n, ENTRY_WINDOW, cache, lost);
  const raft = RAFT_KEYS.map((key) => (key === ENTRY_FAMILY ? familyRow(entries, cache, lost) : keyRow(n, key, cache, lost)));
  const sm = smRows(n, cache, lost);
  return { raft, entries, sm, cacheCount: cache.size, lostCount: lost.size };
}

/** The one-line summary of what a crash would lose, or did. */
export function durabilitySummary(n, model) {
  if (n.stopped) return { state: 'lost', text: t('storage.sumStopped', { id: n.id, error: n.error || '' }) };
  if (!n.up) {
    return model.lostCount
      ? { state: 'lost', text: t(model.lostCount > 1 ? 'storage.sumLost' : 'storage.sumLostOne', { id: n.id, count: model.lostCount }) }
      : { state: 'disk', text: t('storage.sumDown', { id: n.id }) };
  }
  return model.cacheCount
    ? { state: 'cache', text: t(model.cacheCount > 1 ? 'storage.sumCache' : 'storage.sumCacheOne', { id: n.id, count: model.cacheCount }) }
    : { state: 'disk', text: t('storage.sumSynced', { id: n.id }) };
}

// --- DOM helpers, shared with ready.js and progress.js ---

/** Creates an element: attrs may hold text, class, on: {event: fn}. */
export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids);
  return e;
}

/** A term as a chip of its colour with its number (never colour alone). */
export function termChip(term) {
  const s = h('span', { class: 'term-chip', text: String(term) });
  s.style.background = termColor(term);
  if (darkTerm(term)) s.style.color = '#fff';
  return s;
}

// setText lives in dom.js; ready.js and progress.js take it from here.
export { setText };

function flash(rec, now) {
  rec.flip = !rec.flip;
  rec.el.classList.remove(rec.flip ? 'chg-b' : 'chg-a');
  rec.el.classList.add(rec.flip ? 'chg-a' : 'chg-b');
  rec.flashAt = now;
}

/**
 * Makes parent's children match items (each {key, sig, seq?}) in order,
 * reusing the element of each key: make(item) creates it, update(el, item)
 * refreshes it when its sig changed. An item whose seq changed since the
 * last call is highlighted (new items too, unless opts.quiet). recs is the
 * caller's Map(key -> record) across calls. Items start after opts.after
 * when given (a fixed first child such as a thead).
 */
export function reconcile(parent, items, recs, make, update, opts = {}) {
  const now = opts.now ?? 0;
  const seen = new Set(items.map((it) => it.key));
  // Gone items leave first: a window that moved by one (a log losing its
  // oldest entry) then keeps every other element in place, where placing
  // the new first item ahead of the gone one moved them all.
  for (const [k, rec] of recs) {
    if (!seen.has(k)) {
      rec.el.remove();
      recs.delete(k);
    }
  }
  let prev = null;
  for (const it of items) {
    let rec = recs.get(it.key);
    const fresh = !rec;
    if (fresh) {
      rec = { el: make(it), sig: undefined, seq: undefined, flip: false, flashAt: 0 };
      rec.el.dataset.key = it.key;
      recs.set(it.key, rec);
    }
    if (rec.sig !== it.sig) {
      update(rec.el, it);
      rec.sig = it.sig;
    }
    if (it.seq !== undefined) {
      if (fresh ? !opts.quiet : rec.seq !== it.seq) flash(rec, now);
      rec.seq = it.seq;
    }
    const want = prev ? prev.nextSibling : opts.after ? opts.after.nextSibling : parent.firstChild;
    if (want !== rec.el) parent.insertBefore(rec.el, want);
    prev = rec.el;
  }
  for (const rec of recs.values()) {
    if (rec.flashAt && now - rec.flashAt > FLASH_MS) {
      rec.el.classList.remove('chg-a', 'chg-b');
      rec.flashAt = 0;
    }
  }
}

/** The role of member n in words, saying when it is a learner (it gets the log, never votes). */
export function memberRole(n) {
  const role = roleWord(n.role);
  return n.confState?.learners?.includes(n.id) ? t('panels.learner', { role }) : role;
}

/** A short mark of a role, beside the member's name (the words are in the title). */
const ROLE_MARK = { leader: '⬢', candidate: '◆', preCandidate: '◇', down: '✗', stopped: '■' };

/**
 * The member buttons n1, n2, ... of a panel's header: the selected one is
 * pressed; a click selects another. Rebuilt only when members change.
 */
export function memberBar(box, state, selected, helpers) {
  const ids = nodeIds(state);
  const sig = `${language()}|${selected}|${ids.map((id) => { const n = state.nodes[id]; return `${id}:${n.role}:${n.term}`; }).join(',')}`;
  box.__helpers = helpers;
  if (box.__sig === sig) return;
  box.__sig = sig;
  if (!box.__wired) {
    box.__wired = true;
    box.setAttribute('role', 'group');
    box.addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-node]');
      if (b) box.__helpers.select(Number(b.dataset.node));
    });
  }
  box.setAttribute('aria-label', t('panels.members'));
  box.replaceChildren(...ids.map((id) => {
    const n = state.nodes[id];
    const role = roleWord(n.role);
    const b = h('button', { type: 'button', class: `member-btn role-${n.role}`, 'data-node': id, 'aria-pressed': String(id === selected), title: t('panels.memberTitle', { id, role, term: n.term }), 'aria-label': t('panels.memberTitle', { id, role, term: n.term }) }, `n${id}`);
    if (ROLE_MARK[n.role]) b.append(h('span', { class: 'mark', 'aria-hidden': 'true', text: ROLE_MARK[n.role] }));
    return b;
  }));
}

/** The badge of a write's durability: a glyph and words, never colour alone. */
const DISK_GLYPH = { disk: '✓', cache: '◐', lost: '✗', none: '–' };

function diskBadge(el, disk) {
  el.className = `dur ${disk}`;
  el.title = disk === 'none' ? '' : t(`storage.disk.${disk}Title`);
  el.replaceChildren(h('span', { class: 'g', 'aria-hidden': 'true', text: DISK_GLYPH[disk] }), h('span', { class: 'w', text: t(`storage.disk.${disk}`) }));
}

function fillParts(el, parts, note, disk) {
  const kids = [];
  if (note) kids.push(h('span', { class: `note${disk === 'lost' ? ' lost-note' : ''}`, text: note }));
  for (const p of parts) {
    const f = h('span', { class: 'f' });
    if (p.l) f.append(h('span', { class: 'fl', text: p.l }), ' ');
    f.append(p.term !== undefined ? termChip(p.term) : h('span', { class: p.w ? 'fw' : 'fv', text: p.v }));
    kids.push(f);
  }
  el.replaceChildren(...kids);
}

// --- the panel ---

function makeKeyRow(it) {
  const row = h('div', { class: 'stg-row', role: 'listitem' },
    h('div', { class: 'k' }, h('code', { text: it.key })),
    h('div', { class: 'v' }),
    h('div', { class: 'd' }, h('span')),
    h('div', { class: 'why', text: keyWhy(it.key) }));
  row.title = keyWhy(it.key);
  return row;
}

function updateKeyRow(row, it) {
  row.dataset.disk = it.disk;
  row.classList.toggle('deleted', it.deleted);
  const [, v, d] = row.children;
  fillParts(v, it.parts, it.note, it.disk);
  diskBadge(d.firstChild, it.disk);
  row.setAttribute('aria-label', `${it.key}: ${[it.note, partsText(it.parts)].filter(Boolean).join(' ')}, ${t(`storage.disk.${it.disk}`)}`);
}

function makeEntryRow() {
  return h('tr', {}, h('td', { class: 'i' }), h('td', { class: 'tm' }), h('td', { class: 'ty' }), h('td', { class: 'dt' }), h('td', { class: 'd' }, h('span')));
}

function updateEntryRow(tr, it) {
  tr.dataset.disk = it.disk;
  tr.classList.toggle('deleted', it.deleted);
  const [i, tm, ty, dt, d] = tr.children;
  i.textContent = String(it.index);
  const e = it.entry;
  tm.replaceChildren(...(e ? [termChip(e.term)] : []));
  ty.textContent = e ? entryType(e.type) : '';
  ty.classList.toggle('conf', !!e && e.type !== 'normal');
  const kids = [];
  if (it.note) kids.push(h('span', { class: `note${it.disk === 'lost' ? ' lost-note' : ''}`, text: it.note }));
  if (e) kids.push(h('span', { class: e.data ? 'fv' : 'fv noop', text: e.data || t('storage.noop') }));
  dt.replaceChildren(...kids);
  diskBadge(d.firstChild, it.disk);
  tr.title = e ? `${it.key}: ${t('storage.f.term')} ${e.term}, ${entryType(e.type)}, ${e.data || t('storage.noop')}` : `${it.key}: ${it.note}`;
}

function buildStorage(panel) {
  const explain = panel.__explain ?? true;
  const c = { lang: language(), node: 0, raft: new Map(), ents: new Map(), sm: new Map(), entsKey: '' };
  c.title = h('span', { class: 'who' });
  c.role = h('span', { class: 'pnl-role' });
  c.bar = h('div', { class: 'member-bar' });
  c.intro = h('p', { class: 'pnl-intro' });
  c.sum = h('p', { class: 'stg-sum', role: 'note' }, h('span', { class: 'g', 'aria-hidden': 'true' }), h('span', { class: 'txt' }));
  c.explainBtn = h('button', { type: 'button', class: 'stg-explain', 'aria-pressed': String(explain) });
  c.raftList = h('div', { class: 'stg-rows', role: 'list', 'aria-label': t('storage.raftKeys') });
  // The entries' sub-table lives inside the family row; made once, moved with it.
  c.older = h('p', { class: 'stg-older' });
  c.entBody = h('tbody');
  c.entBox = h('div', { class: 'stg-entries', tabindex: '0', 'aria-label': keyWhy(ENTRY_FAMILY) }, c.older,
    h('table', {}, h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: t('storage.col.index') }), h('th', { scope: 'col', text: t('storage.col.term') }),
      h('th', { scope: 'col', class: 'ty', text: t('storage.col.type') }), h('th', { scope: 'col', text: t('storage.col.data') }),
      h('th', { scope: 'col', text: t('storage.col.disk') }))), c.entBody));
  c.smList = h('div', { class: 'stg-rows sm', role: 'list', 'aria-label': t('storage.stateMachine') });
  c.smEmpty = h('p', { class: 'stg-empty', text: t('storage.smEmpty') });
  c.smMore = h('p', { class: 'stg-older' });
  c.empty = h('p', { class: 'stg-empty', text: t('panels.noMember') });
  c.root = h('div', { class: `stg${explain ? ' explain' : ''}` },
    h('div', { class: 'pnl-head' }, h('h3', { class: 'pnl-title' }, c.title, ' ', c.role), c.bar),
    c.empty,
    c.intro,
    c.sum,
    h('div', { class: 'stg-sec' }, h('h4', { text: t('storage.raftKeys') }), c.explainBtn),
    c.raftList,
    h('div', { class: 'stg-sec' }, h('h4', { text: t('storage.stateMachine') })),
    h('p', { class: 'why stg-smwhy', text: t('storage.smWhy') }),
    c.smList, c.smEmpty, c.smMore,
    h('p', { class: 'pnl-legend', text: t('storage.legend') }));
  const setExplain = (on) => {
    panel.__explain = on;
    c.root.classList.toggle('explain', on);
    c.explainBtn.setAttribute('aria-pressed', String(on));
    c.explainBtn.textContent = t(on ? 'storage.explainOff' : 'storage.explainOn');
  };
  c.explainBtn.addEventListener('click', () => setExplain(!c.root.classList.contains('explain')));
  setExplain(explain);
  panel.replaceChildren(c.root);
  return c;
}

function makeRaftRow(it) {
  const row = makeKeyRow(it);
  if (it.family) row.classList.add('family');
  return row;
}

/**
 * renderStorage draws the storage of the selected member.
 * @param {HTMLElement} panel
 * @param {object} state model (state.js)
 * @param {{selected:number}} view
 * @param {{select:(id:number)=>void}} helpers
 */
export function renderStorage(panel, state, view, helpers) {
  let c = panel.__storage;
  if (!c || c.lang !== language()) c = panel.__storage = buildStorage(panel);
  memberBar(c.bar, state, view.selected, helpers);
  const n = state.nodes[view.selected];
  if (c.shown !== !!n) {
    c.shown = !!n;
    for (const e of c.root.children) if (!e.classList.contains('pnl-head')) e.hidden = e === c.empty ? !!n : !n;
  }
  if (!n) { setText(c.title, ''); setText(c.role, ''); return; }

  // Another member: start its rows afresh, without lighting them all up.
  const quiet = c.node !== n.id;
  if (quiet) {
    c.node = n.id;
    for (const m of [c.raft, c.ents, c.sm]) { for (const r of m.values()) r.el.remove(); m.clear(); }
    c.entsKey = '';
  }
  const now = globalThis.performance ? performance.now() : 0;
  const m = storageModel(n);

  setText(c.title, t('storage.title', { id: n.id }));
  setText(c.role, t('panels.roleTerm', { role: memberRole(n), term: n.term }));
  setText(c.intro, t('storage.intro', { id: n.id }));
  const sum = durabilitySummary(n, m);
  c.sum.dataset.state = sum.state;
  setText(c.sum.firstChild, DISK_GLYPH[sum.state]);
  setText(c.sum.lastChild, sum.text);

  reconcile(c.raftList, m.raft, c.raft, makeRaftRow, updateKeyRow, { now, quiet });
  const fam = c.raft.get(ENTRY_FAMILY).el;
  if (c.entBox.parentNode !== fam) fam.appendChild(c.entBox);

  // Keep the newest entry in sight, unless the reader scrolled up.
  const entsKey = m.entries.rows.map((r) => r.key).join();
  const stick = entsKey !== c.entsKey && (quiet || c.entBox.scrollHeight - c.entBox.scrollTop - c.entBox.clientHeight < 12);
  c.entBox.hidden = m.entries.rows.length === 0;
  setText(c.older, m.entries.older ? t('storage.entriesOlder', { count: m.entries.older, from: m.entries.olderFrom, to: m.entries.olderTo }) : '');
  c.older.hidden = !m.entries.older;
  reconcile(c.entBody, m.entries.rows, c.ents, makeEntryRow, updateEntryRow, { now, quiet });
  if (stick) c.entBox.scrollTop = c.entBox.scrollHeight;
  c.entsKey = entsKey;

  reconcile(c.smList, m.sm.rows, c.sm, makeKeyRow, updateKeyRow, { now, quiet });
  c.smEmpty.hidden = m.sm.rows.length > 0;
  c.smMore.hidden = !m.sm.more;
  setText(c.smMore, m.sm.more ? t('storage.smMore', { count: m.sm.more }) : '');
}
