// The Ready pipeline's pure functions (render/ready.js): which of the five
// steps a Ready did, and what each says.
// Run: node --test ui/test/

import test from 'node:test';
import assert from 'node:assert/strict';

import { setLanguage } from '../js/i18n.js';
import { readySteps, agoText, timeText, STEPS } from '../js/render/ready.js';

setLanguage('en');

const RAW_KEY = /\b(storage|ready|progress|panels)\.[a-zA-Z]/;
const active = (steps) => steps.filter((s) => s.active).map((s) => s.id);
const step = (steps, id) => steps.find((s) => s.id === id);

test('the five steps come in the contract order', () => {
  assert.deepEqual(readySteps({ number: 1, mustSync: false, synced: false, messages: 0 }).map((s) => s.id), STEPS);
  assert.deepEqual(STEPS, ['persist', 'sync', 'send', 'apply', 'advance']);
});

test('a heartbeat-only Ready sends and advances, nothing else', () => {
  const s = readySteps({ number: 18, mustSync: false, synced: false, messages: 4 });
  assert.deepEqual(active(s), ['send', 'advance']);
  assert.deepEqual(step(s, 'persist').lines, ['nothing to persist']);
  assert.deepEqual(step(s, 'sync').lines, ['no sync needed']);
  assert.deepEqual(step(s, 'send').lines, ['4 messages released'], 'nothing was persisted, so nothing to wait for');
  assert.deepEqual(step(s, 'apply').lines, ['nothing newly committed']);
});

test('new entries and a vote are persisted and synced before the messages go', () => {
  const s = readySteps({ number: 3, entriesFrom: 5, entriesTo: 7, hardState: { term: 3, vote: 2, commit: 4 }, mustSync: true, synced: true, messages: 1, committedFrom: 4, committedTo: 4 });
  assert.deepEqual(active(s), STEPS);
  assert.deepEqual(step(s, 'persist').lines, ['entries 5–7 (3)', 'HardState: term 3, vote n2, commit 4']);
  assert.match(step(s, 'sync').lines[0], /^fsync: raft set MustSync/);
  assert.deepEqual(step(s, 'send').lines, ['1 message released', 'only now, after the writes above are persisted']);
  assert.deepEqual(step(s, 'apply').lines, ['committed entry 4 applied to the state machine']);
  assert.match(step(s, 'send').why, /Figure 2/);
});

test('a snapshot forces a sync raft did not ask for', () => {
  const s = readySteps({ number: 9, snapshot: 40, mustSync: false, synced: true, messages: 0 });
  assert.deepEqual(step(s, 'persist').lines, ['snapshot at index 40']);
  assert.deepEqual(step(s, 'sync').lines, ['fsync: the snapshot forces it']);
  assert.equal(step(s, 'sync').active, true);
});

test('a commit-only HardState is written without a sync', () => {
  const s = readySteps({ number: 9, hardState: { term: 2, vote: 1, commit: 9 }, mustSync: false, synced: false, messages: 0, committedFrom: 8, committedTo: 9, readStates: 2 });
  assert.equal(step(s, 'persist').active, true);
  assert.equal(step(s, 'sync').active, false);
  assert.match(step(s, 'sync').lines[0], /only the commit index changed/);
  assert.deepEqual(step(s, 'apply').lines, ['committed entries 8–9 applied to the state machine', '2 reads ready to serve (ReadIndex)']);
  assert.equal(step(s, 'hardState'), undefined);
  assert.match(step(s, 'persist').lines[0], /vote n1/);
});

test('no text is a raw message key', () => {
  for (const info of [
    { number: 1, mustSync: false, synced: false, messages: 0 },
    { number: 2, entriesFrom: 1, entriesTo: 1, hardState: { term: 1, vote: 0, commit: 0 }, snapshot: 3, mustSync: true, synced: true, messages: 2, committedFrom: 1, committedTo: 1, readStates: 1 },
  ]) {
    for (const s of readySteps(info)) assert.doesNotMatch([...s.lines, s.why].join(' '), RAW_KEY, s.id);
  }
});

test('how long ago, for people', () => {
  assert.equal(agoText(0), 'just now');
  assert.equal(agoText(-5), 'just now');
  assert.equal(agoText(91.4), '91 ms ago');
  assert.equal(agoText(3400), '3.4 s ago');
  assert.equal(agoText(42000), '42 s ago');
  assert.equal(timeText(1426, false), '1.426 s');
});
