// Unit tests of the lesson evaluator and validator (ui/js/lessons.js):
// node --test ui/test/
//
// The runner itself (the #lesson panel) is tested in a real browser by
// ui/lessons_browser_test.go; ui/lessons_test.go runs every lesson in the
// Go simulator and compares these conditions' verdicts with its own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import {
  CONDITIONS, CHECK_MS, evaluate, matchEvent, stepEnd, untilCond, validateLesson, conditionText, kindOf, say,
} from '../js/lessons.js';
import { newState, apply } from '../js/model/state.js';
import { setLanguage } from '../js/i18n.js';
import en from '../js/i18n/en.js';

const here = dirname(fileURLToPath(import.meta.url));
const lessonsDir = join(here, '..', 'lessons');
const readJSON = (name) => JSON.parse(readFileSync(join(lessonsDir, name), 'utf8'));

// --- a small model built from events, as the timeline would ---

let seq = 0;
function model(events) {
  const s = newState();
  for (const e of events) apply(s, { v: 1, seq: ++seq, ...e });
  return s;
}
const start = (node, time = 0) => ({ kind: 'start', node, time, start: { restart: false, term: 1, vote: 0, commit: 1, applied: 1, firstIndex: 2, lastIndex: 1, confState: { voters: [1, 2, 3] }, electionTicks: 10, heartbeatTicks: 1 } });
const role = (node, r, term, lead = 0, time = 1) => ({ kind: 'role', node, time, role: { role: r, term, lead } });
const key = (node, k, value, extra = {}) => ({ kind: 'key', node, time: 2, key: { key: k, value, synced: true, ...extra } });
const entry = (node, index, term) => key(node, `/raft/entry/${index}`, { index, term, type: 'normal', size: 0 });

function cluster() {
  return [
    start(1), start(2), start(3),
    role(3, 'leader', 2, 3), role(1, 'follower', 2, 3), role(2, 'follower', 2, 3),
    entry(3, 2, 2), key(3, '/raft/last_index', { index: 2 }),
    { kind: 'commit', node: 3, time: 3, commit: { from: 1, to: 2 } },
    { kind: 'apply', node: 3, time: 3, apply: { from: 2, to: 2, entries: [] } },
    { kind: 'commit', node: 1, time: 4, commit: { from: 1, to: 2 } },
    { kind: 'apply', node: 1, time: 4, apply: { from: 2, to: 2, entries: [] } },
    key(3, '/kv/x', '1'),
    { kind: 'progress', node: 3, time: 4, progress: { peer: 1, match: 2, next: 3, state: 'replicate', inflight: 0, recentActive: true, paused: false } },
  ];
}

const ctxOf = (events, stepEvents = []) => ({ state: model(events), events: stepEvents });

// One condition of every kind, with its verdict on cluster(); the test
// checks this table covers CONDITIONS.
const voteRejected = { v: 1, seq: 1, time: 5, node: 2, kind: 'vote', vote: { decision: 'rejected', candidate: 1, voter: 2, term: 2, pre: false } };
const roleEvent = { v: 1, seq: 2, time: 5, node: 1, kind: 'role', role: { role: 'preCandidate', term: 1, lead: 0 } };
const cases = [
  [{ leader: {} }, true],
  [{ leader: { is: 3 } }, true],
  [{ leader: { isNot: 3 } }, false],
  [{ role: { node: 3, is: 'leader' } }, true],
  [{ role: { node: 1, is: 'candidate' } }, false],
  [{ term: { atLeast: 2 } }, true],
  [{ term: { atMost: 1 } }, false],
  [{ term: { node: 1, atLeast: 2, atMost: 2 } }, true],
  [{ committed: { index: 2, on: 'leader' } }, true],
  [{ committed: { index: 2, on: 'majority' } }, true],
  [{ committed: { index: 2, on: 'all' } }, false],
  [{ applied: { index: 2, on: 1 } }, true],
  [{ applied: { index: 2, on: 2 } }, false],
  [{ entry: { node: 3, index: 2, term: 2 } }, true],
  [{ entry: { node: 3, index: 2, term: 3 } }, false],
  [{ up: 2 }, true],
  [{ down: 2 }, false],
  [{ removed: 2 }, false],
  [{ config: { node: 'leader', voters: [3, 2, 1] } }, true],
  [{ config: { node: 1, voters: [1, 2] } }, false],
  [{ snapshot: { node: 1, atLeast: 1 } }, false],
  [{ snapshotApplied: { node: 1 } }, false],
  [{ progress: { peer: 1, state: 'replicate', matchAtLeast: 2 } }, true],
  [{ progress: { peer: 2 } }, false],
  [{ kv: { node: 3, key: 'x', value: '1' } }, true],
  [{ kv: { node: 1, key: 'x', value: '1' } }, false],
  [{ event: { kind: 'vote', decision: 'rejected' } }, true],
  [{ event: { kind: 'role', role: 'preCandidate', node: 1 } }, true],
  [{ count: { event: { kind: 'vote' }, atLeast: 2 } }, false],
  [{ all: [{ leader: {} }, { up: 1 }] }, true],
  [{ any: [{ down: 1 }, { up: 1 }] }, true],
  [{ not: { leader: {} } }, false],
];

test('every condition kind is covered and evaluates as documented', () => {
  const covered = new Set(cases.map(([c]) => kindOf(c)));
  assert.deepEqual([...covered].sort(), Object.keys(CONDITIONS).sort());
  const events = cluster();
  for (const [c, want] of cases) {
    assert.equal(evaluate(c, ctxOf(events, [voteRejected, roleEvent])), want, JSON.stringify(c));
  }
});

test('down, removed and restarted members', () => {
  const events = [...cluster(), { kind: 'crash', node: 1, time: 9, lost: [] }, { kind: 'stop', node: 2, time: 9, error: 'removed from the cluster' }];
  const ctx = ctxOf(events);
  assert.equal(evaluate({ down: 1 }, ctx), true);
  assert.equal(evaluate({ role: { node: 1, is: 'down' } }, ctx), true);
  assert.equal(evaluate({ removed: 2 }, ctx), true);
  assert.equal(evaluate({ role: { node: 2, is: 'stopped' } }, ctx), true);
  assert.equal(evaluate({ up: 1 }, ctx), false);
  // "all" skips members that are down; "majority" counts them as failing.
  assert.equal(evaluate({ committed: { index: 2, on: 'all' } }, ctx), true);
  assert.equal(evaluate({ committed: { index: 2, on: 'majority' } }, ctx), false);
  // A member that never existed is in no role.
  assert.equal(evaluate({ role: { node: 7, is: 'down' } }, ctx), false);
  assert.equal(evaluate({ up: 7 }, ctx), false);
});

test('an installed snapshot counts as applied', () => {
  const events = [...cluster(), key(2, '/raft/snapshot', { index: 9, term: 2, size: 3, confState: { voters: [1, 2, 3] } }),
    { kind: 'snapshot', node: 2, time: 6, snapshot: { phase: 'applied', index: 9, term: 2, size: 3, confState: { voters: [1, 2, 3] } } }];
  const ctx = ctxOf(events, [events[events.length - 1]]);
  assert.equal(evaluate({ applied: { index: 9, on: 2 } }, ctx), true);
  assert.equal(evaluate({ snapshot: { node: 2, atLeast: 9 } }, ctx), true);
  assert.equal(evaluate({ snapshotApplied: { node: 2 } }, ctx), true);
});

test('matchEvent looks in the payload first and treats missing fields as zero', () => {
  const e = { v: 1, seq: 3, time: 7, node: 2, kind: 'key', key: { key: '/raft/entry/6', deleted: true, synced: true } };
  assert.ok(matchEvent(e, { kind: 'key', key: '/raft/entry/6', deleted: true, node: 2 }));
  assert.ok(!matchEvent(e, { kind: 'key', key: '/raft/entry/7' }));
  const msg = { v: 1, seq: 4, time: 7, node: 1, kind: 'send', msg: { id: 1, type: 'MsgApp', from: 1, to: 2, term: 2, size: 10 } };
  assert.ok(matchEvent(msg, { kind: 'send', type: 'MsgApp', reject: false }), 'an omitted boolean is false');
  assert.ok(matchEvent(msg, { kind: 'send', index: 0 }), 'an omitted number is 0');
  assert.ok(!matchEvent(msg, { kind: 'send', reject: true }));
  assert.ok(!matchEvent(msg, { kind: 'deliver' }));
  // A role event's payload is named like its field: the pattern means the payload's.
  assert.ok(matchEvent(roleEvent, { kind: 'role', role: 'preCandidate' }));
});

test('stepEnd: fixed runs, the first check that holds plus afterMs, or maxMs', () => {
  assert.deepEqual(stepEnd({ forMs: 300 }, 1000, () => assert.fail('forMs checks nothing')), { end: 1300, held: true });
  const seen = [];
  const r = stepEnd({ until: { leader: {} }, maxMs: 100, afterMs: 25 }, 1000, (tt) => { seen.push(tt); return tt >= 1030; });
  assert.deepEqual(r, { end: 1055, held: true });
  assert.deepEqual(seen, [1000, 1010, 1020, 1030]);
  const never = stepEnd({ until: { leader: {} }, maxMs: 35 }, 0, () => false);
  assert.deepEqual(never, { end: 35, held: false });
  assert.equal(CHECK_MS, 10);
  assert.deepEqual(untilCond({ until: [{ leader: {} }, { up: 1 }] }), { all: [{ leader: {} }, { up: 1 }] });
  assert.deepEqual(untilCond({ until: { up: 1 } }), { up: 1 });
});

test('every lesson in index.json validates, and index.json lists every file', () => {
  const index = readJSON('index.json');
  const files = readdirSync(lessonsDir).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => f.slice(0, -5)).sort();
  assert.deepEqual([...index.lessons].sort(), files);
  assert.ok(index.lessons.length >= 12);
  for (const id of index.lessons) {
    const l = readJSON(`${id}.json`);
    assert.equal(l.id, id);
    assert.deepEqual(validateLesson(l), [], id);
  }
});

test('validateLesson refuses what the Go test refuses', () => {
  const good = readJSON('first_election.json');
  const bad = [
    (l) => { l.config.events = true; },
    (l) => { l.title.zh = ''; },
    (l) => { delete l.steps[0].text.en; },
    (l) => { l.steps[0].run = { forMs: 10, maxMs: 10 }; },
    (l) => { l.steps[0].run = { until: { leader: {} } }; },
    (l) => { l.steps[0].expect = [{ leaders: {} }]; },
    (l) => { l.steps[0].expect = [{ leader: { id: 3 } }]; },
    (l) => { l.steps[0].expect = [{ event: { kind: 'vote' } }]; },
    (l) => { l.steps[0].expect = [{ event: { kind: 'votes' }, look: { en: 'x', zh: '投票' } }]; },
    (l) => { l.steps[0].run = { until: { leader: {}, look: { en: 'x', zh: '投票' } }, maxMs: 10 }; },
    (l) => { l.steps[0].actions = [{ kind: 'explode' }]; },
    (l) => { l.steps[0].actions = [{ kind: 'crash', node: 1, at: 5 }]; },
    (l) => { l.steps[0].tab = 'nope'; },
    (l) => { l.steps[0].highlight = ['nowhere']; },
    (l) => { l.steps = []; },
  ];
  assert.deepEqual(validateLesson(good), []);
  for (const [i, f] of bad.entries()) {
    const l = structuredClone(good);
    f(l);
    assert.notDeepEqual(validateLesson(l), [], `bad lesson ${i} was accepted`);
  }
});

test('every message key lessons.js uses exists in en.js', () => {
  const src = readFileSync(join(here, '..', 'js', 'lessons.js'), 'utf8');
  const keys = new Set([...src.matchAll(/t\('(lesson\.[\w.]+)'/g)].map((m) => m[1]));
  for (const k of ['all', 'majority', 'leader']) keys.add(`lesson.on.${k}`);
  for (const k of ['probe', 'replicate', 'snapshot']) keys.add(`lesson.progress.${k}`);
  assert.ok(keys.size > 30);
  for (const k of keys) assert.ok(k in en, `en.js has no ${k}`);
});

test('every expectation of every lesson reads as words in both languages', () => {
  const index = readJSON('index.json');
  for (const lang of ['en', 'zh']) {
    setLanguage(lang);
    for (const id of index.lessons) {
      const l = readJSON(`${id}.json`);
      assert.ok(say(l.title));
      for (const s of l.steps) {
        assert.ok(say(s.text));
        for (const c of s.expect || []) {
          const text = conditionText(c);
          assert.ok(text && !/lesson\.|\{[a-zA-Z]\w*\}|undefined/.test(text), `${id}: ${text}`);
        }
      }
    }
  }
  setLanguage('en');
});

