// The storage panel's pure functions (render/storage.js), fed by the real
// model (model/state.js): what each key shows, where each write is (disk,
// page cache, lost), the entry window and the state machine's rows.
// Run: node --test ui/test/

import test from 'node:test';
import assert from 'node:assert/strict';

import { setLanguage } from '../js/i18n.js';
import { newState, apply } from '../js/model/state.js';
import { RAFT_KEYS } from '../js/model/events.js';
import {
  valueParts, partsText, durability, cachedKeys, entryRows, smRows, storageModel,
  durabilitySummary, keyName, keyWhy, confParts, memberRole, ENTRY_FAMILY, ENTRY_WINDOW,
} from '../js/render/storage.js';

setLanguage('en');

/** A message key left untranslated shows as itself: no output may contain one. */
const RAW_KEY = /\b(storage|ready|progress|panels)\.[a-zA-Z]/;

/** Folds events into a fresh model; returns the state and member 1. */
class Run {
  constructor() {
    this.state = newState();
    this.seq = 0;
    this.time = 0;
  }

  ev(kind, payload, node = 1) {
    this.seq++;
    this.time += 10;
    apply(this.state, { v: 1, seq: this.seq, time: this.time, node, kind, ...payload });
    return this;
  }

  key(key, value, synced, deleted = false) {
    return this.ev('key', { key: deleted ? { key, deleted: true, synced } : { key, value, synced } });
  }

  get n() { return this.state.nodes[1]; }
}

const entry = (index, term, data = '') => ({ index, term, type: 'normal', size: data.length, ...(data ? { data } : {}) });

/** A member that started from a bootstrap snapshot at index 1 and stored entries 2..last. */
function started(last = 3) {
  const r = new Run();
  r.ev('start', { start: { restart: false, term: 1, vote: 0, commit: 1, applied: 1, firstIndex: 2, lastIndex: 1, confState: { voters: [1, 2, 3] }, electionTicks: 10, heartbeatTicks: 1 } });
  r.key('/raft/first_index', { index: 2, prevTerm: 1 }, true);
  r.key('/raft/last_index', { index: 1 }, true);
  r.key('/raft/hard_state', { term: 1, vote: 0, commit: 1 }, true);
  r.key('/raft/conf_state', { voters: [1, 2, 3] }, true);
  r.key('/raft/uncommit_index', { applied: 1, last: 1 }, true);
  r.key('/raft/snapshot', { index: 1, term: 1, confState: { voters: [1, 2, 3] }, size: 2 }, true);
  for (let i = 2; i <= last; i++) r.key(`/raft/entry/${i}`, entry(i, 2, i === 2 ? '' : `put k${i}=${i}`), true);
  if (last >= 2) {
    r.key('/raft/last_index', { index: last }, true);
    r.key('/raft/hard_state', { term: 2, vote: 2, commit: last }, true);
  }
  return r;
}

test('each raft key reads as words and numbers, not JSON', () => {
  const cases = [
    ['/raft/first_index', { index: 5, prevTerm: 2 }, 'index 5 · term of entry 4 2'],
    ['/raft/first_index', { index: 1, prevTerm: 0 }, 'index 1 · nothing before it'],
    ['/raft/last_index', { index: 12 }, 'index 12'],
    ['/raft/hard_state', { term: 3, vote: 2, commit: 7 }, 'term 3 · vote n2 · commit 7'],
    ['/raft/hard_state', { term: 0, vote: 0, commit: 0 }, 'term 0 · vote none · commit 0'],
    ['/raft/conf_state', { voters: [1, 2, 3] }, 'voters n1 n2 n3'],
    ['/raft/uncommit_index', { applied: 5, last: 7 }, '(5, 7] · 2 stored entries not yet applied'],
    ['/raft/uncommit_index', { applied: 6, last: 7 }, '(6, 7] · 1 stored entry not yet applied'],
    ['/raft/uncommit_index', { applied: 7, last: 7 }, '(7, 7] · empty: every stored entry is applied'],
    ['/raft/snapshot', { index: 0, term: 0, confState: { voters: [] }, size: 0 }, 'no snapshot yet'],
    ['/raft/snapshot', { index: 20, term: 3, confState: { voters: [1, 2, 3], learners: [4] }, size: 120 }, 'index 20 · term 3 · voters n1 n2 n3 · learners n4 · size 120 bytes'],
    ['/raft/entry/4', entry(4, 2, 'put x=1'), 'index 4 · term 2 · normal · put x=1'],
    ['/raft/entry/5', entry(5, 3), "index 5 · term 3 · normal · empty: a new leader's no-op (§8)"],
    ['/kv/x', '1', '"1"'],
    ['/kv/empty', '', '""'],
    ['/members/2', 'ws://127.0.0.1:7002', 'ws://127.0.0.1:7002'],
  ];
  for (const [key, v, want] of cases) assert.equal(partsText(valueParts(key, v)), want, key);
});

test('terms are marked so the panel can colour them (with their number)', () => {
  const p = valueParts('/raft/hard_state', { term: 3, vote: 2, commit: 7 });
  assert.deepEqual(p.filter((x) => x.term !== undefined).map((x) => x.term), [3]);
});

test('a joint configuration shows both sides, learners next and auto-leave', () => {
  const cs = { voters: [1, 2, 4], votersOutgoing: [1, 2, 3], learners: [5], learnersNext: [3], autoLeave: true };
  assert.equal(partsText(confParts(cs)),
    'voters n1 n2 n4 · learners n5 · outgoing voters (joint consensus) n1 n2 n3 · learners next n3 · auto-leave leaves the joint configuration by itself');
});

test('an empty log says everything is in the snapshot', () => {
  const r = started(1);
  r.key('/raft/first_index', { index: 21, prevTerm: 3 }, true);
  r.key('/raft/last_index', { index: 20 }, true);
  assert.match(partsText(valueParts('/raft/last_index', r.n.keys['/raft/last_index'].value, r.n)), /everything is in the snapshot/);
});

test('every key has its explanation, naming a section of the paper', () => {
  for (const key of [...RAFT_KEYS, '/raft/entry/7', '/kv/x', '/members/3']) {
    const why = keyWhy(key);
    assert.doesNotMatch(why, RAW_KEY, key);
    if (key.startsWith('/raft/')) assert.match(why, /§\d|Figure 2/, key);
  }
  assert.equal(keyName('/raft/entry/7'), 'entry');
  assert.equal(keyName(ENTRY_FAMILY), 'entry');
  assert.equal(keyName('/raft/hard_state'), 'hard_state');
});

test('an unsynced write is in the page cache until a synced batch covers it', () => {
  const r = started(3);
  r.key('/raft/hard_state', { term: 2, vote: 2, commit: 3 }, false);
  r.key('/kv/k3', '3', false);
  assert.equal(durability(r.n, '/raft/hard_state'), 'cache');
  assert.equal(durability(r.n, '/kv/k3'), 'cache');
  assert.equal(durability(r.n, '/raft/last_index'), 'disk');
  assert.equal(durability(r.n, '/kv/nope'), 'none');
  // A later synced batch (new entries) makes the earlier writes durable,
  // although their own events said synced: false; the model marks them.
  r.key('/raft/entry/4', entry(4, 2, 'put y=1'), true);
  assert.equal(r.n.keys['/kv/k3'].synced, true, 'a later sync covers the earlier write');
  assert.equal(durability(r.n, '/kv/k3'), 'disk');
  assert.equal(durability(r.n, '/raft/hard_state'), 'disk');
  assert.equal(cachedKeys(r.n).size, 0);
});

test('a crash strikes out exactly the writes that were not synced', () => {
  const r = started(3);
  r.key('/raft/hard_state', { term: 2, vote: 2, commit: 3 }, false);
  r.key('/raft/uncommit_index', { applied: 3, last: 3 }, false);
  r.key('/kv/k3', '3', false);
  const before = storageModel(r.n);
  assert.equal(before.cacheCount, 3);
  assert.equal(durabilitySummary(r.n, before).state, 'cache');
  assert.doesNotMatch(durabilitySummary(r.n, before).text, RAW_KEY);

  r.ev('crash', { lost: [] });
  const m = storageModel(r.n);
  assert.equal(m.lostCount, 3);
  const byKey = Object.fromEntries(m.raft.map((x) => [x.key, x]));
  // Rolled back to the synced value: shown, with the loss said.
  assert.equal(byKey['/raft/hard_state'].disk, 'lost');
  assert.equal(byKey['/raft/hard_state'].note, 'rolled back to');
  assert.equal(partsText(byKey['/raft/hard_state'].parts), 'term 2 · vote n2 · commit 3');
  assert.equal(byKey['/raft/first_index'].disk, 'disk');
  // Never on disk: gone, struck out.
  const kv = m.sm.rows.find((x) => x.key === '/kv/k3');
  assert.equal(kv.disk, 'lost');
  assert.equal(kv.note, 'never reached the disk');
  const sum = durabilitySummary(r.n, m);
  assert.equal(sum.state, 'lost');
  assert.match(sum.text, /keeps only synced writes/);

  // A restart reads the disk back: nothing is lost any more.
  r.ev('start', { start: { restart: true, term: 2, vote: 2, commit: 3, applied: 1, firstIndex: 2, lastIndex: 3, confState: { voters: [1, 2, 3] }, electionTicks: 10, heartbeatTicks: 1 } });
  assert.equal(storageModel(r.n).lostCount, 0);
  assert.equal(durabilitySummary(r.n, storageModel(r.n)).state, 'disk');
});

test('the seven raft keys come in their fixed order, each with a row', () => {
  const m = storageModel(started(3).n);
  assert.deepEqual(m.raft.map((x) => x.key), RAFT_KEYS);
  const fam = m.raft.find((x) => x.key === ENTRY_FAMILY);
  assert.equal(partsText(fam.parts), '2 entries: 2–3');
  for (const row of m.raft) {
    assert.ok(row.sig, row.key);
    assert.doesNotMatch(`${row.note} ${partsText(row.parts)}`, RAW_KEY, row.key);
  }
});

test('a key never written says so', () => {
  const r = new Run();
  r.ev('start', { start: { restart: false, term: 0, vote: 0, commit: 0, applied: 0, firstIndex: 1, lastIndex: 0, confState: { voters: [1] }, electionTicks: 10, heartbeatTicks: 1 } });
  const m = storageModel(r.n);
  assert.equal(m.raft[2].disk, 'none');
  assert.equal(m.raft[2].note, 'not written yet');
  assert.equal(m.raft[4].note, 'no entries stored');
});

test('a long log shows the newest entries and counts the older ones', () => {
  const r = started(50);
  const e = entryRows(r.n);
  assert.equal(e.rows.length, ENTRY_WINDOW);
  assert.equal(e.rows[0].index, 50 - ENTRY_WINDOW + 1);
  assert.equal(e.rows.at(-1).index, 50);
  assert.deepEqual([e.older, e.olderFrom, e.olderTo], [49 - ENTRY_WINDOW, 2, 50 - ENTRY_WINDOW]);
  assert.deepEqual([e.stored, e.first, e.last], [49, 2, 50]);
  assert.ok(e.rows.every((x) => x.key === `/raft/entry/${x.index}`));
});

test('a compaction not yet synced shows its deletes as in page cache', () => {
  const r = started(6);
  r.key('/raft/entry/2', null, false, true);
  r.key('/raft/entry/3', null, false, true);
  r.key('/raft/first_index', { index: 4, prevTerm: 2 }, false);
  const e = entryRows(r.n);
  assert.deepEqual(e.rows.map((x) => [x.index, x.disk, x.deleted]), [[2, 'cache', true], [3, 'cache', true], [4, 'disk', false], [5, 'disk', false], [6, 'disk', false]]);
  assert.match(e.rows[0].note, /compaction/);
  assert.equal(e.stored, 3);
  const fam = storageModel(r.n).raft.find((x) => x.key === ENTRY_FAMILY);
  assert.equal(fam.disk, 'cache');
  // Once synced, the deleted keys are gone from disk and from the panel.
  r.key('/raft/hard_state', { term: 2, vote: 2, commit: 6 }, true);
  assert.deepEqual(entryRows(r.n).rows.map((x) => x.index), [4, 5, 6]);
});

test('the state machine lists members by id, then keys in order; synced deletes vanish', () => {
  const r = started(3);
  r.key('/kv/b', '2', true);
  r.key('/members/10', 'ws://h:10', true);
  r.key('/kv/a', '1', true);
  r.key('/members/2', 'ws://h:2', true);
  r.key('/kv/gone', 'x', true);
  r.key('/kv/gone', null, true, true);
  r.key('/kv/going', 'x', true);
  r.key('/kv/going', null, false, true);
  const sm = smRows(r.n);
  assert.deepEqual(sm.rows.map((x) => x.key), ['/members/2', '/members/10', '/kv/a', '/kv/b', '/kv/going']);
  assert.equal(sm.rows.at(-1).note, 'deleted');
  assert.equal(sm.rows.at(-1).disk, 'cache');
  assert.equal(smRows(r.n, undefined, undefined, 2).more, 3);
});

test('a row changes its sig when its durability changes, not only its value', () => {
  const r = started(3);
  r.key('/kv/x', '1', false);
  const a = smRows(r.n).rows[0];
  r.key('/raft/entry/4', entry(4, 2), true);
  const b = smRows(r.n).rows[0];
  assert.notEqual(a.sig, b.sig);
  assert.equal(a.seq, b.seq, 'no new write: no highlight');
});

test('a learner is named as one', () => {
  const r = started(3);
  r.n.confState = { voters: [2, 3], learners: [1] };
  assert.equal(memberRole(r.n), 'follower, learner');
});
