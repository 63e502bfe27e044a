// The model: a pure fold of events into what the UI draws. apply(state, e)
// changes state in place (the timeline clones it for checkpoints); given the
// same events it always gives the same state, whether they came from the
// simulator or from real members. Nothing here touches the DOM, the clock or
// randomness.

/** How long a finished message stays in the model, for its fade-out (ms). */
export const MESSAGE_LINGER_MS = 400;
/** How long a real member's message may stay in flight in the model (ms). */
export const LIVE_FLIGHT_MAX_MS = 5000;
/** How many client requests the model remembers. */
const MAX_REQUESTS = 200;

/** @returns {object} an empty model */
export function newState() {
  return {
    time: 0,
    seq: 0,
    events: 0,
    /** id -> node state */
    nodes: {},
    /** `${from}:${id}` -> message in flight or just finished */
    messages: {},
    /** {at, key}, by at: when each message may leave messages (pruneMessages) */
    expiries: [],
    /** how many of expiries are done with */
    expiriesDone: 0,
    network: { groups: [], cuts: [], latencyMs: 0, jitterMs: 0, lossRatio: 0, diskMs: 0, down: [], members: [] },
    /** reqId -> client request (proposal or read) */
    requests: {},
    requestOrder: [],
    /** events lost by a full buffer somewhere upstream */
    droppedEvents: 0,
    /** term -> leader id, every leader ever seen */
    leaders: {},
  };
}

function newNode(id) {
  return {
    id,
    up: true,
    stopped: false,
    error: '',
    role: 'follower',
    term: 0,
    lead: 0,
    vote: 0,
    commit: 0,
    applied: 0,
    firstIndex: 1,
    lastIndex: 0,
    electionTicks: 10,
    heartbeatTicks: 1,
    timer: { elapsed: 0, timeout: 0, at: 0 },
    /** as a candidate: the election it runs */
    votes: null,
    /** index -> EntryValue, as stored under /raft/entry/{index} */
    entries: {},
    snapshot: { index: 0, term: 0, size: 0 },
    confState: { voters: [] },
    /** display key -> {value, synced, deleted, at, seq} */
    keys: {},
    /** display key -> {value, deleted} as of the last sync (what a crash keeps) */
    durable: {},
    /** keys written since the last sync, oldest first */
    unsynced: [],
    /** keys a crash rolled back, until the member restarts */
    lost: [],
    /** key -> the value a crash rolled back (null: the key was new) */
    lostValues: {},
    /** peer -> ProgressInfo, while leader */
    progress: {},
    ready: null,
    /** the last Ready that persisted or applied something */
    lastWork: null,
    readies: 0,
    lastApply: null,
    lastSnapshot: null,
  };
}

function node(state, id) {
  if (!id) return null;
  let n = state.nodes[id];
  if (!n) {
    n = newNode(id);
    state.nodes[id] = n;
  }
  return n;
}

/** The term a (pre)candidate runs for. */
function campaignTerm(n) {
  return n.role === 'preCandidate' ? n.term + 1 : n.term;
}

/**
 * apply folds one event into state.
 * @param {object} state from newState
 * @param {import('./events.js').Event} e
 */
export function apply(state, e) {
  state.time = Math.max(state.time, e.time);
  state.seq = e.seq;
  state.events++;
  const n = e.node ? node(state, e.node) : null;
  switch (e.kind) {
    case 'start': onStart(state, n, e.start); break;
    case 'crash': onCrash(state, n); break;
    case 'stop':
      n.up = false;
      n.stopped = true;
      n.error = e.error || '';
      n.role = 'stopped';
      break;
    case 'role': onRole(state, n, e.role, e.time); break;
    case 'timer': n.timer = { elapsed: e.timer.elapsed, timeout: e.timer.timeout, at: e.time }; break;
    case 'vote': {
      const v = e.vote;
      if (v.decision === 'granted' && v.candidate === v.voter && n.votes) {
        addVote(n.votes, v.voter, true);
      }
      break;
    }
    case 'send': {
      const m = e.msg;
      const k = `${m.from}:${m.id}`;
      const rec = state.messages[k];
      if (rec) {
        // Its arrival came first: real members stamp their own events
        // (in milliseconds, by their own clocks), and a member reports a
        // send after handing the message on.
        rec.sentAt = Math.min(rec.sentAt, e.time);
      } else {
        state.messages[k] = { msg: m, sentAt: e.time, deliverAt: m.deliverAt || 0, status: 'flying', endAt: 0 };
        if (!m.deliverAt) expireAt(state, e.time + LIVE_FLIGHT_MAX_MS, k);
      }
      break;
    }
    case 'deliver':
    case 'drop': onArrival(state, n, e); break;
    case 'ready': {
      const rd = { info: e.ready, at: e.time };
      n.ready = rd;
      n.readies++;
      // Most Readies of a quiet cluster only carry heartbeats; the last one
      // that wrote or applied something is the one worth showing.
      const i = e.ready;
      if (i.entriesTo || i.hardState || i.snapshot || i.committedTo) n.lastWork = rd;
      break;
    }
    case 'key': onKey(n, e.key, e.time, e.seq); break;
    case 'commit': n.commit = e.commit.to; break;
    case 'apply':
      n.applied = e.apply.to;
      n.lastApply = { from: e.apply.from, to: e.apply.to, at: e.time };
      break;
    case 'snapshot':
      n.lastSnapshot = { ...e.snapshot, at: e.time };
      // Installing a leader's snapshot applies everything up to it (§7).
      if (e.snapshot.phase === 'applied') {
        n.applied = Math.max(n.applied, e.snapshot.index);
        n.commit = Math.max(n.commit, e.snapshot.index);
      }
      break;
    case 'compact': break; // the key deletes say it all
    case 'confChange':
      if (e.confChange.phase === 'applied' && e.confChange.confState) {
        n.confState = e.confChange.confState;
        // A leader keeps no progress for members it removed.
        const cs = n.confState;
        const members = [...(cs.voters || []), ...(cs.learners || []), ...(cs.votersOutgoing || []), ...(cs.learnersNext || [])];
        for (const peer in n.progress) if (!members.includes(Number(peer))) delete n.progress[peer];
      }
      break;
    case 'progress': n.progress[e.progress.peer] = e.progress; break;
    case 'network': state.network = { groups: [], cuts: [], down: [], members: [], ...e.network }; break;
    case 'read': onRequest(state, e, 'read', e.read); break;
    case 'proposal': onRequest(state, e, 'write', e.proposal); break;
    case 'dropped': state.droppedEvents += e.dropped.count; break;
    default: break; // transfer, log: shown by the feed only
  }
  pruneMessages(state);
  return state;
}

function onStart(state, n, s) {
  n.lostValues = {};
  n.up = true;
  n.stopped = false;
  n.error = '';
  n.role = 'follower';
  n.term = s.term;
  n.vote = s.vote;
  n.lead = 0;
  n.commit = s.commit;
  n.applied = s.applied;
  n.firstIndex = s.firstIndex;
  n.lastIndex = s.lastIndex;
  n.confState = s.confState;
  n.electionTicks = s.electionTicks;
  n.heartbeatTicks = s.heartbeatTicks;
  n.votes = null;
  n.progress = {};
  n.lost = [];
}

// onCrash rolls back what the member wrote since its last sync, as the
// engine did: the UI shows what survives.
function onCrash(state, n) {
  n.up = false;
  n.role = 'down';
  n.lead = 0;
  n.votes = null;
  n.progress = {};
  const lost = [];
  n.lostValues = {};
  for (let i = n.unsynced.length - 1; i >= 0; i--) {
    const k = n.unsynced[i];
    const d = n.durable[k];
    const cur = n.keys[k];
    if (!(k in n.lostValues)) n.lostValues[k] = cur && !cur.deleted ? cur.value : null;
    if (!d) {
      delete n.keys[k];
      if (k.startsWith('/raft/entry/')) delete n.entries[Number(k.slice(12))];
    } else {
      n.keys[k] = { value: d.value, synced: true, deleted: false, at: n.keys[k]?.at ?? 0, seq: 0, restored: true };
      derive(n, k, d.value, false);
    }
    lost.push(k);
  }
  n.unsynced = [];
  n.lost = [...new Set(lost)].reverse();
  // A durable delete leaves nothing to remember.
  for (const k in n.durable) if (n.durable[k].deleted) delete n.durable[k];
}

function addVote(votes, id, granted) {
  const list = granted ? votes.granted : votes.rejected;
  if (!list.includes(id)) list.push(id);
}

function onRole(state, n, r, time) {
  const was = n.role;
  n.role = r.role;
  n.term = r.term;
  n.lead = r.lead;
  if ((r.role === 'candidate' || r.role === 'preCandidate') && was !== r.role) {
    n.votes = { term: campaignTerm(n), pre: r.role === 'preCandidate', granted: [], rejected: [], since: time };
  } else if (r.role !== 'candidate' && r.role !== 'preCandidate') {
    n.votes = null;
  }
  if (r.role !== 'leader') {
    n.progress = {};
  } else {
    state.leaders[r.term] = n.id;
  }
}

function onArrival(state, n, e) {
  const m = e.msg;
  const k = `${m.from}:${m.id}`;
  const rec = state.messages[k];
  if (rec) {
    rec.status = e.kind === 'deliver' ? 'delivered' : 'dropped';
    rec.reason = m.reason || '';
    rec.endAt = e.time;
  } else {
    // Dropped before it left (a partition at send time), or an arrival
    // merged before its send (see the send case).
    const status = e.kind === 'deliver' ? 'delivered' : 'dropped';
    state.messages[k] = { msg: m, sentAt: e.time, deliverAt: e.time, status, reason: m.reason || '', endAt: e.time };
  }
  expireAt(state, e.time + MESSAGE_LINGER_MS, k);
  if (e.kind !== 'deliver' || !n) return;
  // A candidate counts the votes it receives (§5.2).
  if ((m.type === 'MsgVoteResp' || m.type === 'MsgPreVoteResp') && n.votes && n.votes.pre === (m.type === 'MsgPreVoteResp')) {
    addVote(n.votes, m.from, !m.reject);
  }
}

// A finished message leaves the model MESSAGE_LINGER_MS after it ended, and
// a real member's message that never arrives LIVE_FLIGHT_MAX_MS after its
// send. Looking at every message after every event cost more than the rest
// of the fold with nine members, so each message is queued by the time it
// may go, and only the queue's due front is looked at.
function pruneMessages(state) {
  const q = state.expiries;
  let done = state.expiriesDone;
  while (done < q.length && q[done].at < state.time) {
    const k = q[done++].key;
    const rec = state.messages[k];
    if (rec && gone(rec, state.time)) delete state.messages[k];
  }
  if (done > 256 && done * 2 > q.length) {
    q.splice(0, done);
    done = 0;
  }
  state.expiriesDone = done;
}

function gone(rec, now) {
  return rec.status !== 'flying' ? now - rec.endAt > MESSAGE_LINGER_MS : lostInFlight(rec, now);
}

// expireAt queues message k to be looked at once the model's time passes
// at. Events come in time order, or nearly (real members' clocks), so the
// place is found from the end.
function expireAt(state, at, key) {
  const q = state.expiries;
  let i = q.length;
  while (i > state.expiriesDone && q[i - 1].at > at) i--;
  if (i === q.length) q.push({ at, key });
  else q.splice(i, 0, { at, key });
}

// lostInFlight tells a real member's message whose arrival will never be
// reported: a stream over its rate drops send and deliver events, and a
// message that takes this long went down with its connection. Simulated
// messages (they carry deliverAt) always end in a deliver or a drop.
function lostInFlight(rec, now) {
  return !rec.deliverAt && now - rec.sentAt > LIVE_FLIGHT_MAX_MS;
}

// onKey records a storage write or delete and the durability bookkeeping
// a crash needs: a synced batch makes every earlier write durable.
function onKey(n, kc, time, seq) {
  const k = kc.key;
  if (kc.synced) {
    // A sync makes every earlier write durable too; a durable delete is
    // simply gone.
    for (const u of n.unsynced) {
      const cur = n.keys[u];
      if (!cur || cur.deleted) {
        delete n.durable[u];
        if (cur) delete n.keys[u];
      } else {
        n.durable[u] = { value: cur.value, deleted: false };
        cur.synced = true;
      }
    }
    n.unsynced = [];
    if (kc.deleted) delete n.durable[k];
    else n.durable[k] = { value: kc.value, deleted: false };
  } else {
    n.unsynced.push(k);
  }
  if (kc.deleted && kc.synced) {
    delete n.keys[k];
  } else if (kc.deleted) {
    // Kept until synced: a crash before then brings the key back.
    n.keys[k] = { value: null, synced: false, deleted: true, at: time, seq };
  } else {
    n.keys[k] = { value: kc.value, synced: kc.synced, deleted: false, at: time, seq };
  }
  derive(n, k, kc.value, !!kc.deleted);
}

// derive keeps the node's log fields in step with its keys.
function derive(n, k, v, deleted) {
  if (k.startsWith('/raft/entry/')) {
    const idx = Number(k.slice(12));
    if (deleted) delete n.entries[idx];
    else n.entries[idx] = v;
    return;
  }
  if (deleted) return;
  switch (k) {
    case '/raft/first_index': n.firstIndex = v.index; break;
    case '/raft/last_index': n.lastIndex = v.index; break;
    case '/raft/hard_state': n.vote = v.vote; break;
    case '/raft/conf_state': n.confState = v; break;
    case '/raft/snapshot': n.snapshot = { index: v.index, term: v.term, size: v.size }; break;
    default: break;
  }
}

function onRequest(state, e, kind, p) {
  let r = state.requests[p.reqId];
  if (!r) {
    r = { reqId: p.reqId, kind, node: e.node, key: p.key || '', command: p.command || '', phase: '', index: 0, start: e.time, end: 0, value: '', error: '' };
    state.requests[p.reqId] = r;
    state.requestOrder.push(p.reqId);
    if (state.requestOrder.length > MAX_REQUESTS) delete state.requests[state.requestOrder.shift()];
  }
  r.phase = p.phase;
  if (p.index) r.index = p.index;
  if (p.error) r.error = p.error;
  if (p.value !== undefined) r.value = p.value;
  if (p.found !== undefined) r.found = p.found;
  if (['applied', 'served', 'failed'].includes(p.phase)) r.end = e.time;
}

/** The id of the leader with the highest term among running members, 0 if none. */
export function leaderOf(state) {
  let lead = 0;
  let term = -1;
  for (const id in state.nodes) {
    const n = state.nodes[id];
    if (n.up && n.role === 'leader' && n.term > term) {
      lead = n.id;
      term = n.term;
    }
  }
  return lead;
}

/** The election timer of n at time t, in ticks, extrapolated between timer events. */
export function timerAt(n, t, tickMs) {
  if (!n.up || n.role === 'leader' || !n.timer.timeout) return null;
  const ticks = Math.floor((t - n.timer.at) / tickMs);
  return { elapsed: Math.min(n.timer.timeout, n.timer.elapsed + Math.max(0, ticks)), timeout: n.timer.timeout };
}

/** The member ids the model knows, sorted. */
export function nodeIds(state) {
  return Object.keys(state.nodes).map(Number).sort((a, b) => a - b);
}
