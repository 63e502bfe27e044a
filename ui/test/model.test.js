// The pure modules: the model's fold, the timeline's checkpoints and forks,
// shared URLs, and the merge of real members' streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newState, apply, leaderOf, timerAt } from '../js/model/state.js';
import { Timeline } from '../js/model/timeline.js';
import { encodeRun, decodeRun } from '../js/share.js';
import { Merger, normalizeURL, eventsURL } from '../js/source/live.js';

let seq = 0;
const ev = (time, node, kind, payload) => ({ v: 1, seq: ++seq, time, node, kind, ...payload });
const role = (time, node, r, term, lead = 0) => ev(time, node, 'role', { role: { role: r, term, lead } });

test('roles fold into members and the leader of the highest term wins', () => {
  const s = newState();
  apply(s, role(10, 1, 'leader', 2, 1));
  apply(s, role(20, 2, 'leader', 3, 2));
  apply(s, role(20, 1, 'follower', 3, 2));
  assert.equal(leaderOf(s), 2);
  assert.deepEqual(s.leaders, { 2: 1, 3: 2 });
});

test('a candidate counts the votes delivered to it, and its own', () => {
  const s = newState();
  apply(s, ev(0, 1, 'start', { start: { restart: false, term: 1, vote: 0, commit: 1, applied: 1, firstIndex: 2, lastIndex: 1, confState: { voters: [1, 2, 3] }, electionTicks: 10, heartbeatTicks: 1 } }));
  apply(s, role(5, 1, 'candidate', 2));
  apply(s, ev(5, 1, 'vote', { vote: { decision: 'granted', candidate: 1, voter: 1, term: 2, pre: false } }));
  apply(s, ev(30, 1, 'deliver', { msg: { id: 9, type: 'MsgVoteResp', from: 2, to: 1, term: 2, reject: false, size: 10 } }));
  apply(s, ev(31, 1, 'deliver', { msg: { id: 4, type: 'MsgVoteResp', from: 3, to: 1, term: 2, reject: true, size: 10 } }));
  assert.deepEqual(s.nodes[1].votes.granted, [1, 2]);
  assert.deepEqual(s.nodes[1].votes.rejected, [3]);
});

test('a send and its delivery pair up by sender and id; finished messages fade out', () => {
  const s = newState();
  apply(s, ev(0, 1, 'send', { msg: { id: 7, type: 'MsgApp', from: 1, to: 2, term: 2, size: 40, deliverAt: 50 } }));
  assert.equal(s.messages['1:7'].status, 'flying');
  apply(s, ev(50, 2, 'deliver', { msg: { id: 7, type: 'MsgApp', from: 1, to: 2, term: 2, size: 40 } }));
  assert.equal(s.messages['1:7'].status, 'delivered');
  apply(s, role(5000, 3, 'follower', 2));
  assert.equal(s.messages['1:7'], undefined);
});

test("a real member's delivery merged before its send still ends the message", () => {
  const s = newState();
  // The same millisecond: the merge puts member 1's delivery before member 3's send.
  apply(s, ev(70, 1, 'deliver', { msg: { id: 4, type: 'MsgApp', from: 3, to: 1, term: 2, size: 40 } }));
  apply(s, ev(70, 3, 'send', { msg: { id: 4, type: 'MsgApp', from: 3, to: 1, term: 2, size: 40 } }));
  assert.equal(s.messages['3:4'].status, 'delivered');
  apply(s, role(600, 2, 'follower', 2));
  assert.equal(s.messages['3:4'], undefined);
});

test("a real member's message whose delivery was never reported leaves the model", () => {
  const s = newState();
  apply(s, ev(0, 3, 'send', { msg: { id: 5, type: 'MsgApp', from: 3, to: 1, term: 2, size: 40 } }));
  apply(s, ev(0, 1, 'send', { msg: { id: 6, type: 'MsgApp', from: 1, to: 2, term: 2, size: 40, deliverAt: 9000 } }));
  apply(s, role(4000, 2, 'follower', 2));
  assert.equal(s.messages['3:5'].status, 'flying');
  apply(s, role(5001, 2, 'follower', 2));
  assert.equal(s.messages['3:5'], undefined);
  // A simulated message ends only in its delivery or drop.
  assert.equal(s.messages['1:6'].status, 'flying');
});

test('messages leave the model exactly when their time is up, in any order of arrival', () => {
  // The model queues each message by when it may go; check it against
  // looking at every message after every event, over a long random run
  // with real members' events a little out of order.
  const s = newState();
  let rnd = 12345;
  const next = (n) => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd % n; };
  const sent = [];
  let now = 0;
  for (let i = 0; i < 3000; i++) {
    now += next(40);
    const time = Math.max(0, now - next(30));
    const id = i;
    const from = 1 + next(3);
    const live = next(2) === 0;
    if (next(3) > 0 || !sent.length) {
      const msg = { id, type: 'MsgApp', from, to: 1 + next(3), term: 2, size: 40 };
      if (!live) msg.deliverAt = time + 50;
      apply(s, ev(time, from, 'send', { msg }));
      sent.push({ ...msg, sentAt: time });
    } else {
      const m = sent.splice(next(sent.length), 1)[0];
      apply(s, ev(time, m.to, next(4) ? 'deliver' : 'drop', { msg: { id: m.id, type: m.type, from: m.from, to: m.to, term: 2, size: 40 } }));
    }
    for (const k in s.messages) {
      const r = s.messages[k];
      const due = r.status !== 'flying' ? s.time - r.endAt > 400 : !r.deliverAt && s.time - r.sentAt > 5000;
      assert.equal(due, false, `message ${k} (${r.status}) kept at ${s.time}`);
    }
    for (const m of sent) {
      const r = s.messages[`${m.from}:${m.id}`];
      const gone = m.deliverAt === undefined && s.time - m.sentAt > 5000;
      if (!gone && !r) assert.fail(`message ${m.from}:${m.id} left while in flight`);
    }
  }
  assert.ok(s.expiries.length - s.expiriesDone < 1000, 'the queue keeps only what can still go');
});

test('the election timer advances a tick at a time between timer events', () => {
  const s = newState();
  apply(s, role(0, 1, 'follower', 1));
  apply(s, ev(100, 1, 'timer', { timer: { elapsed: 0, timeout: 14 } }));
  assert.deepEqual(timerAt(s.nodes[1], 450, 100), { elapsed: 3, timeout: 14 });
  assert.deepEqual(timerAt(s.nodes[1], 99999, 100), { elapsed: 14, timeout: 14 });
});

test('a timeline shows any moment again, and a fork drops the future', () => {
  const tl = new Timeline({ checkpointEvery: 2 });
  tl.push([role(10, 1, 'follower', 1), role(20, 1, 'candidate', 2), role(30, 1, 'leader', 2, 1), role(40, 1, 'follower', 3)]);
  assert.equal(tl.stateAt(25).nodes[1].role, 'candidate');
  assert.equal(tl.stateAt(35).nodes[1].role, 'leader');
  assert.equal(tl.stateAt(15).nodes[1].role, 'follower');
  assert.equal(tl.head.nodes[1].term, 3);
  tl.truncate(25);
  assert.equal(tl.events.length, 2);
  assert.equal(tl.head.nodes[1].role, 'candidate', 'the fork starts from the state at its time, not the discarded future');
  tl.push([role(26, 1, 'leader', 2, 1)]);
  assert.equal(tl.head.nodes[1].role, 'leader');
});

test('a shared run survives the URL and garbage is refused', () => {
  const run = { config: { nodes: 5, seed: 42 }, actions: [{ at: 1200, step: 77, kind: 'put', key: 'ü', value: '1' }], t: 5000 };
  assert.deepEqual(decodeRun(encodeRun(run)), { v: 1, ...run });
  for (const bad of ['', '#x', '#run=', '#run=%%%', '#run=e30', encodeRun({ config: 1, actions: [], t: 1 })]) {
    assert.equal(decodeRun(bad), null, bad);
  }
});

test('streams of several members merge in time order after a short wait', () => {
  const m = new Merger();
  m.add([{ seq: 1, time: 100, node: 2 }, { seq: 2, time: 300, node: 2 }]);
  m.add([{ seq: 1, time: 50, node: 1 }, { seq: 2, time: 200, node: 1 }]);
  assert.deepEqual(m.release(360, 150).map((e) => `${e.node}@${e.time}`), ['1@50', '2@100', '1@200']);
  assert.deepEqual(m.release(1000, 150).map((e) => `${e.node}@${e.time}`), ['2@300']);
  assert.equal(normalizeURL('127.0.0.1:7001/'), 'http://127.0.0.1:7001');
  assert.equal(eventsURL('https://h:1', 42), 'wss://h:1/events?since=42&rate=2000');
  assert.throws(() => normalizeURL('ftp://x'));
});
