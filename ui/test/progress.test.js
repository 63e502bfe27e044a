// The leader's view (render/progress.js): which leader, and what it knows
// of each follower.
// Run: node --test ui/test/

import test from 'node:test';
import assert from 'node:assert/strict';

import { setLanguage } from '../js/i18n.js';
import { leaderView, barText, confMembers } from '../js/render/progress.js';

setLanguage('en');

function member(id, role, term, extra = {}) {
  return { id, up: true, role, term, lastIndex: 0, commit: 0, progress: {}, confState: { voters: [1, 2, 3] }, ...extra };
}

const pr = (peer, match, next, state = 'replicate', extra = {}) => ({ peer, match, next, state, inflight: 0, recentActive: true, paused: false, ...extra });

test('no leader: says so, and who campaigns', () => {
  const state = { nodes: { 1: member(1, 'candidate', 4), 2: member(2, 'preCandidate', 3), 3: member(3, 'follower', 3) } };
  const v = leaderView(state);
  assert.equal(v.leader, 0);
  assert.deepEqual(v.campaigns, ['n1 is candidate for term 4', 'n2 asks for pre-votes for term 4']);
  assert.equal(v.allDown, false);
});

test('no leader because every member is down', () => {
  const state = { nodes: { 1: member(1, 'down', 2, { up: false }), 2: member(2, 'down', 2, { up: false }) } };
  assert.equal(leaderView(state).allDown, true);
});

test('the leader of the highest term among running members; an older one is stale', () => {
  const state = {
    nodes: {
      1: member(1, 'leader', 2, { lastIndex: 5 }),
      2: member(2, 'leader', 3, { lastIndex: 8, commit: 7, progress: { 1: pr(1, 5, 6, 'probe', { recentActive: false, paused: true }), 3: pr(3, 8, 9) } }),
      3: member(3, 'follower', 3),
      4: member(4, 'leader', 9, { up: false }),
    },
  };
  const v = leaderView(state);
  assert.equal(v.leader, 2);
  assert.deepEqual([v.term, v.last, v.commit], [3, 8, 7]);
  assert.deepEqual(v.stale, [{ id: 1, term: 2 }]);
  assert.deepEqual(v.rows.map((r) => [r.peer, r.state, r.behind, r.frac]), [[1, 'probe', 3, 5 / 8], [3, 'replicate', 0, 1]]);
  assert.equal(barText(v.rows[0], v.last), '5 of 8 · 3 behind');
  assert.equal(barText(v.rows[1], v.last), '8 of 8 · up to date');
});

test('followers outside the configuration are left out; learners and down members are marked', () => {
  const state = {
    nodes: {
      1: member(1, 'leader', 2, { lastIndex: 10, confState: { voters: [1, 2], learners: [4] }, progress: { 2: pr(2, 10, 11), 3: pr(3, 2, 3), 4: pr(4, 0, 1, 'snapshot', { learner: true, pendingSnapshot: 9 }) } }),
      2: member(2, 'down', 2, { up: false }),
    },
  };
  const v = leaderView(state);
  assert.deepEqual(v.rows.map((r) => r.peer), [2, 4]);
  assert.equal(v.rows[0].down, true);
  assert.equal(v.rows[1].learner, true);
  assert.equal(v.rows[1].pendingSnapshot, 9);
  assert.equal(v.rows[1].frac, 0);
  assert.notEqual(v.rows[0].sig, v.rows[1].sig);
});

test('a joint configuration counts both sides as members', () => {
  assert.deepEqual([...confMembers({ voters: [1, 2], votersOutgoing: [1, 3], learners: [4], learnersNext: [5] })].sort(), [1, 2, 3, 4, 5]);
  assert.equal(confMembers(undefined).size, 0);
});

test('a new leader that has not reported its followers yet is not a one-member cluster', () => {
  const state = { nodes: { 1: member(1, 'leader', 2), 2: member(2, 'follower', 2) } };
  assert.equal(leaderView(state).waiting, true);
  const alone = { nodes: { 1: member(1, 'leader', 2, { confState: { voters: [1] } }) } };
  assert.equal(leaderView(alone).waiting, false);
});
