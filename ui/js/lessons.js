// Lessons: narrated chapters that run the real raft on a fresh simulated
// cluster and say what to watch, step by step, in both directions (The
// Secret Lives of Data's idea, without its forced pacing: Back and Next
// work at any moment).
//
// A lesson is data: ui/lessons/<id>.json, listed in teaching order by
// ui/lessons/index.json. ui/lessons/README.md documents the format and the
// condition vocabulary below. A step performs its actions (sim.Action
// objects) through app.act when it starts, plays the simulation until its
// `run` rule is met, pauses, and ticks its `expect` conditions.
//
// Determinism is what lets a student go back: step k starts at the virtual
// time step k-1 ended, which depends only on the run (seed, config, action
// log), never on frame timing. The run rule is checked every CHECK_MS of
// virtual time from the step's start, so the end is the same here and in
// ui/lessons_test.go, which runs every lesson in core/sim with its own
// implementation of the same conditions and checks every expectation.
//
// This file has two halves: the evaluator (pure functions over the model
// and the events, imported by the Node tests) and the runner (class
// Lessons, the #lesson panel).

import { h } from './dom.js';
import { t, language } from './i18n.js';
import { leaderOf, apply } from './model/state.js';
import { KINDS } from './model/events.js';

/** The run rule is checked every CHECK_MS of virtual time from a step's start. */
export const CHECK_MS = 10;
/** The longest a step may play (virtual ms). */
export const MAX_STEP_MS = 60000;
/** The speed lessons play at unless a lesson says otherwise (virtual ms per real ms). */
export const DEFAULT_SPEED = 0.2;

// The condition vocabulary: kind -> its argument, either the names of the
// fields of an object or a word for a scalar ("node": a member id) or for
// nested conditions. ui/lessons_test.go parses this literal (keep it strict
// JSON) and compares it with the Go evaluator's.
export const CONDITIONS = {
  "leader": ["is", "isNot"],
  "role": ["node", "is"],
  "term": ["node", "atLeast", "atMost"],
  "committed": ["index", "on"],
  "applied": ["index", "on"],
  "entry": ["node", "index", "term"],
  "up": "node",
  "down": "node",
  "removed": "node",
  "config": ["node", "voters", "learners", "outgoing"],
  "snapshot": ["node", "atLeast"],
  "snapshotApplied": ["node"],
  "progress": ["peer", "state", "matchAtLeast"],
  "kv": ["node", "key", "value"],
  "event": "pattern",
  "count": ["event", "atLeast", "atMost"],
  "all": "conditions",
  "any": "conditions",
  "not": "condition"
};

/** Roles a `role` condition may name: raft's, and the simulator's down and stopped (removed). */
export const ROLES = ["follower", "preCandidate", "candidate", "leader", "down", "stopped"];

/** The leader's view of a follower (raft's tracker states). */
export const PROGRESS_STATES = ["probe", "replicate", "snapshot"];

/** Inspector tabs a step may open (`tab`). */
export const TABS = ["logs", "storage", "ready", "progress"];

// Parts of the screen a step may point at (`highlight`): name -> selector.
// ui/lessons_test.go reads the names from this literal (keep it JSON).
export const HIGHLIGHTS = {
  "cluster": "#cluster",
  "legend": "#legend",
  "inspector": ".inspector",
  "controls": ".transport-bar",
  "scrub": ".scrub",
  "actions": "#actions",
  "feed": ".feed"
};

// Fields a lesson, a step, a run rule, a config and an action may have
// (validation refuses others), and the action kinds (core/sim/actions.go).
// ui/lessons_test.go compares these literals (keep them JSON) with its Go
// structs, sim.Config and sim.Action.
export const LESSON_FIELDS = ["id", "title", "summary", "config", "speed", "steps"];
export const STEP_FIELDS = ["text", "actions", "run", "expect", "tab", "select", "highlight", "pace", "allowRefusal"];
export const RUN_FIELDS = ["until", "maxMs", "afterMs", "forMs"];
export const CONFIG_FIELDS = ["nodes", "seed", "tickMs", "electionTicks", "heartbeatTicks", "latencyMs", "jitterMs",
  "lossRatio", "diskMs", "snapshotEntries", "catchUpEntries", "clientTimeoutMs"];
export const ACTION_FIELDS = ["kind", "node", "peer", "groups", "key", "value", "msgId", "delayMs", "latencyMs",
  "jitterMs", "lossRatio", "diskMs", "changes"];
export const ACTION_KINDS = ["crash", "restart", "partition", "heal", "cut", "uncut", "network", "put", "delete", "read",
  "snapshot", "addNode", "addLearner", "promote", "remove", "confChange", "transfer", "campaign", "dropMsg", "delayMsg"];

// --- the evaluator ---

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isId = (v) => Number.isInteger(v) && v > 0;
const isCount = (v) => Number.isInteger(v) && v >= 0;

/** The kind of a condition object: its one key other than `look`. */
export function kindOf(cond) {
  const keys = Object.keys(cond).filter((k) => k !== 'look');
  return keys.length === 1 ? keys[0] : '';
}

/** A member's role as a `role` condition sees it. */
function roleOf(state, id) {
  const n = state.nodes[id];
  if (!n) return 'none';
  if (n.stopped) return 'stopped';
  if (!n.up) return 'down';
  return n.role;
}

/** The members of the cluster (not removed), up or down. */
function members(state) {
  return Object.values(state.nodes).filter((n) => !n.stopped);
}

// appliedOf is the member's applied index. An installed snapshot applies
// everything up to its index at once (§7); the model records it as the
// stored snapshot, so take the larger of the two.
function appliedOf(n) {
  return Math.max(n.applied, n.snapshot?.index || 0);
}

/**
 * Whether `test` holds on the members `on` names: "all" (every running
 * member), "majority" (more than half of the members, down ones counting
 * as failing), "leader", or a member id (which must be running).
 */
function onMembers(state, on, test) {
  if (on === 'all') return members(state).filter((n) => n.up).every(test);
  if (on === 'majority') {
    const ms = members(state);
    return ms.filter((n) => n.up && test(n)).length > ms.length / 2;
  }
  const id = on === 'leader' ? leaderOf(state) : on;
  const n = state.nodes[id];
  return !!n && n.up && !n.stopped && test(n);
}

const sameSet = (a = [], b = []) => a.length === b.length && [...a].sort((x, y) => x - y).every((v, i) => v === [...b].sort((x, y) => x - y)[i]);

/**
 * Looks a pattern field up in an event: in its payload first (the one
 * object field: role, vote, msg, key, ...; a role event's "role" field is
 * the role's name there), then among the event's own scalar fields (kind,
 * node, time, error).
 */
function lookup(e, key) {
  for (const v of Object.values(e)) {
    if (isObj(v) && key in v) return v[key];
  }
  return key in e && !isObj(e[key]) ? e[key] : undefined;
}

/**
 * Whether event e matches pattern: every field equal. A field the event
 * leaves out equals its zero value (false, 0, ""), as Go's omitempty
 * leaves it out.
 */
export function matchEvent(e, pattern) {
  for (const [k, want] of Object.entries(pattern)) {
    let got = lookup(e, k);
    if (got === undefined || got === null) got = typeof want === 'boolean' ? false : typeof want === 'number' ? 0 : '';
    if (got !== want) return false;
  }
  return true;
}

/**
 * evaluate says whether a condition holds.
 * @param {object} cond a condition (see CONDITIONS)
 * @param {{state: object, events: object[]}} ctx the model at the moment
 *   checked, and the events of the step so far (from its start, its
 *   actions' events included, to that moment)
 * @returns {boolean}
 */
export function evaluate(cond, ctx) {
  const kind = kindOf(cond);
  const a = cond[kind];
  const { state } = ctx;
  switch (kind) {
    case 'leader': {
      const lead = leaderOf(state);
      if (!lead) return false;
      if (a.is !== undefined && lead !== a.is) return false;
      if (a.isNot !== undefined && lead === a.isNot) return false;
      return true;
    }
    case 'role': return roleOf(state, a.node) === a.is;
    case 'term': {
      let term;
      if (a.node !== undefined) {
        const n = state.nodes[a.node];
        if (!n || !n.up || n.stopped) return false;
        term = n.term;
      } else {
        const up = members(state).filter((n) => n.up);
        if (!up.length) return false;
        term = Math.max(...up.map((n) => n.term));
      }
      return (a.atLeast === undefined || term >= a.atLeast) && (a.atMost === undefined || term <= a.atMost);
    }
    case 'committed': return onMembers(state, a.on, (n) => n.commit >= a.index);
    case 'applied': return onMembers(state, a.on, (n) => appliedOf(n) >= a.index);
    case 'entry': {
      const n = state.nodes[a.node];
      if (!n || !n.up || n.stopped || a.index < n.firstIndex || a.index > n.lastIndex) return false;
      return n.entries[a.index]?.term === a.term;
    }
    case 'up': return roleOf(state, a) !== 'none' && state.nodes[a].up;
    case 'down': return roleOf(state, a) === 'down';
    case 'removed': return roleOf(state, a) === 'stopped';
    case 'config': {
      const id = a.node === 'leader' ? leaderOf(state) : a.node;
      const n = state.nodes[id];
      if (!n || !n.up || n.stopped) return false;
      const cs = n.confState || {};
      return (a.voters === undefined || sameSet(cs.voters, a.voters))
        && (a.learners === undefined || sameSet(cs.learners, a.learners))
        && (a.outgoing === undefined || sameSet(cs.votersOutgoing, a.outgoing));
    }
    case 'snapshot': {
      const n = state.nodes[a.node];
      return !!n && n.up && !n.stopped && (n.snapshot?.index || 0) >= a.atLeast;
    }
    case 'snapshotApplied':
      return ctx.events.some((e) => matchEvent(e, { kind: 'snapshot', phase: 'applied', node: a.node }));
    case 'progress': {
      const lead = state.nodes[leaderOf(state)];
      const p = lead?.progress[a.peer];
      if (!p) return false;
      return (a.state === undefined || p.state === a.state) && (a.matchAtLeast === undefined || p.match >= a.matchAtLeast);
    }
    case 'kv': {
      const n = state.nodes[a.node];
      if (!n || !n.up || n.stopped) return false;
      const k = n.keys[`/kv/${a.key}`];
      return !!k && !k.deleted && k.value === a.value;
    }
    case 'event': return ctx.events.some((e) => matchEvent(e, a));
    case 'count': {
      let c = 0;
      for (const e of ctx.events) if (matchEvent(e, a.event)) c++;
      return (a.atLeast === undefined || c >= a.atLeast) && (a.atMost === undefined || c <= a.atMost);
    }
    case 'all': return a.every((c) => evaluate(c, ctx));
    case 'any': return a.some((c) => evaluate(c, ctx));
    case 'not': return !evaluate(a, ctx);
    default: throw new Error(`lessons: unknown condition ${JSON.stringify(cond)}`);
  }
}

/** A run rule's `until` (one condition or a list, all of which must hold) as one condition. */
export function untilCond(run) {
  return Array.isArray(run.until) ? { all: run.until } : run.until;
}

/**
 * The end of a step, found by checking its run rule every CHECK_MS from
 * its start: the first check where `until` holds plus afterMs, or
 * start + maxMs when it never holds; start + forMs for a fixed run.
 * holdsAt(time) evaluates `until` at a time; it is only called at check
 * points, in increasing order, from the start. Returns {end, held}.
 */
export function stepEnd(run, start, holdsAt) {
  if (run.forMs !== undefined) return { end: start + run.forMs, held: true };
  for (let tt = start; tt <= start + run.maxMs; tt += CHECK_MS) {
    if (holdsAt(tt)) return { end: tt + (run.afterMs || 0), held: true };
  }
  return { end: start + run.maxMs, held: false };
}

// --- validation (the Go test has its own, stricter in nothing) ---

function checkText(v, where, errs) {
  if (!isObj(v) || typeof v.en !== 'string' || typeof v.zh !== 'string' || !v.en.trim() || !v.zh.trim() || Object.keys(v).length !== 2) {
    errs.push(`${where}: needs non-empty "en" and "zh" texts and nothing else`);
  }
}

function checkFields(obj, allowed, where, errs) {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) errs.push(`${where}: unknown field "${k}"`);
}

const isNodeRef = (v) => isId(v);

/** Checks a condition; `top` conditions are shown to the student (they may carry a `look` text). */
export function checkCondition(c, where, errs, top = false) {
  if (!isObj(c)) { errs.push(`${where}: a condition is an object`); return; }
  const kind = kindOf(c);
  if (!kind || !(kind in CONDITIONS)) { errs.push(`${where}: unknown condition ${JSON.stringify(c)}`); return; }
  if ('look' in c) {
    if (!top) errs.push(`${where}: only a step's expectations carry "look"`);
    checkText(c.look, `${where}.look`, errs);
  } else if (top && ['event', 'count', 'all', 'any', 'not'].includes(kind)) {
    errs.push(`${where}: a "${kind}" expectation needs a "look" text`);
  }
  const a = c[kind];
  const w = `${where}.${kind}`;
  const spec = CONDITIONS[kind];
  if (Array.isArray(spec)) {
    if (!isObj(a)) { errs.push(`${w}: arguments are an object`); return; }
    checkFields(a, spec, w, errs);
  }
  const need = (ok, what) => { if (!ok) errs.push(`${w}: ${what}`); };
  const on = (v) => v === 'all' || v === 'majority' || v === 'leader' || isId(v);
  switch (kind) {
    case 'leader': need(a.is === undefined || isId(a.is), 'is: a member id'); need(a.isNot === undefined || isId(a.isNot), 'isNot: a member id'); break;
    case 'role': need(isNodeRef(a.node), 'node: a member id'); need(ROLES.includes(a.is), `is: one of ${ROLES.join(', ')}`); break;
    case 'term':
      need(a.node === undefined || isId(a.node), 'node: a member id');
      need(a.atLeast !== undefined || a.atMost !== undefined, 'atLeast or atMost');
      need(a.atLeast === undefined || isCount(a.atLeast), 'atLeast: a term');
      need(a.atMost === undefined || isCount(a.atMost), 'atMost: a term');
      break;
    case 'committed': case 'applied': need(isId(a.index), 'index: a log index'); need(on(a.on), 'on: "all", "majority", "leader" or a member id'); break;
    case 'entry': need(isId(a.node), 'node: a member id'); need(isId(a.index), 'index: a log index'); need(isCount(a.term), 'term: a term'); break;
    case 'up': case 'down': case 'removed': need(isId(a), 'a member id'); break;
    case 'config':
      need(isId(a.node) || a.node === 'leader', 'node: a member id or "leader"');
      for (const f of ['voters', 'learners', 'outgoing']) need(a[f] === undefined || (Array.isArray(a[f]) && a[f].every(isId)), `${f}: member ids`);
      need(a.voters !== undefined || a.learners !== undefined || a.outgoing !== undefined, 'voters, learners or outgoing');
      break;
    case 'snapshot': need(isId(a.node), 'node: a member id'); need(isId(a.atLeast), 'atLeast: a log index'); break;
    case 'snapshotApplied': need(isId(a.node), 'node: a member id'); break;
    case 'progress':
      need(isId(a.peer), 'peer: a member id');
      need(a.state === undefined || PROGRESS_STATES.includes(a.state), `state: one of ${PROGRESS_STATES.join(', ')}`);
      need(a.matchAtLeast === undefined || isCount(a.matchAtLeast), 'matchAtLeast: a log index');
      break;
    case 'kv': need(isId(a.node), 'node: a member id'); need(typeof a.key === 'string' && a.key !== '', 'key: a key'); need(typeof a.value === 'string', 'value: a string'); break;
    case 'event': checkPattern(a, w, errs); break;
    case 'count':
      checkPattern(a.event, `${w}.event`, errs);
      need(a.atLeast !== undefined || a.atMost !== undefined, 'atLeast or atMost');
      need(a.atLeast === undefined || isCount(a.atLeast), 'atLeast: a count');
      need(a.atMost === undefined || isCount(a.atMost), 'atMost: a count');
      break;
    case 'all': case 'any':
      if (!Array.isArray(a) || !a.length) errs.push(`${w}: a list of conditions`);
      else a.forEach((x, i) => checkCondition(x, `${w}[${i}]`, errs));
      break;
    case 'not': checkCondition(a, w, errs); break;
    default: break;
  }
}

function checkPattern(p, where, errs) {
  if (!isObj(p)) { errs.push(`${where}: an event pattern is an object`); return; }
  if (!KINDS.includes(p.kind)) errs.push(`${where}: kind must be an event kind (${p.kind})`);
  for (const [k, v] of Object.entries(p)) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) errs.push(`${where}.${k}: a pattern field is a string, number or boolean`);
  }
}

function checkAction(a, where, errs) {
  if (!isObj(a)) { errs.push(`${where}: an action is an object`); return; }
  checkFields(a, ACTION_FIELDS, where, errs);
  if (!ACTION_KINDS.includes(a.kind)) errs.push(`${where}: unknown action kind "${a.kind}"`);
}

/** validateLesson returns the problems of a lesson, [] when it is sound. */
export function validateLesson(l) {
  const errs = [];
  if (!isObj(l)) return ['a lesson is an object'];
  checkFields(l, LESSON_FIELDS, 'lesson', errs);
  if (typeof l.id !== 'string' || !/^[a-z0-9_]+$/.test(l.id)) errs.push('id: lowercase letters, digits and _');
  checkText(l.title, 'title', errs);
  checkText(l.summary, 'summary', errs);
  if (!isObj(l.config)) errs.push('config: an object');
  else {
    checkFields(l.config, CONFIG_FIELDS, 'config', errs);
    if (!Number.isInteger(l.config.nodes) || l.config.nodes < 1 || l.config.nodes > 9) errs.push('config.nodes: 1 to 9');
    if (!isCount(l.config.seed)) errs.push('config.seed: a seed');
  }
  if (l.speed !== undefined && !(typeof l.speed === 'number' && l.speed > 0 && l.speed <= 10)) errs.push('speed: in (0, 10]');
  if (!Array.isArray(l.steps) || !l.steps.length) errs.push('steps: at least one');
  (l.steps || []).forEach((s, i) => {
    const w = `steps[${i}]`;
    if (!isObj(s)) { errs.push(`${w}: an object`); return; }
    checkFields(s, STEP_FIELDS, w, errs);
    checkText(s.text, `${w}.text`, errs);
    if (s.actions !== undefined) {
      if (!Array.isArray(s.actions)) errs.push(`${w}.actions: a list`);
      else s.actions.forEach((a, j) => checkAction(a, `${w}.actions[${j}]`, errs));
    }
    const r = s.run;
    if (!isObj(r)) errs.push(`${w}.run: an object`);
    else {
      checkFields(r, RUN_FIELDS, `${w}.run`, errs);
      const ms = (v) => Number.isInteger(v) && v >= 0 && v <= MAX_STEP_MS;
      if (r.forMs !== undefined) {
        if (!ms(r.forMs)) errs.push(`${w}.run.forMs: 0 to ${MAX_STEP_MS}`);
        if (r.until !== undefined || r.maxMs !== undefined || r.afterMs !== undefined) errs.push(`${w}.run: forMs goes alone`);
      } else {
        if (r.until === undefined) errs.push(`${w}.run: until or forMs`);
        else if (Array.isArray(r.until)) r.until.forEach((c, j) => checkCondition(c, `${w}.run.until[${j}]`, errs));
        else checkCondition(r.until, `${w}.run.until`, errs);
        if (!ms(r.maxMs) || r.maxMs === 0) errs.push(`${w}.run.maxMs: 1 to ${MAX_STEP_MS}`);
        if (r.afterMs !== undefined && !ms(r.afterMs)) errs.push(`${w}.run.afterMs: 0 to ${MAX_STEP_MS}`);
      }
    }
    if (s.expect !== undefined) {
      if (!Array.isArray(s.expect)) errs.push(`${w}.expect: a list`);
      else s.expect.forEach((c, j) => checkCondition(c, `${w}.expect[${j}]`, errs, true));
    }
    if (s.tab !== undefined && !TABS.includes(s.tab)) errs.push(`${w}.tab: one of ${TABS.join(', ')}`);
    if (s.select !== undefined && !isId(s.select)) errs.push(`${w}.select: a member id`);
    if (s.highlight !== undefined && !(Array.isArray(s.highlight) && s.highlight.every((h) => h in HIGHLIGHTS))) errs.push(`${w}.highlight: names from ${Object.keys(HIGHLIGHTS).join(', ')}`);
    if (s.pace !== undefined && !(typeof s.pace === 'number' && s.pace > 0 && s.pace <= 100)) errs.push(`${w}.pace: in (0, 100]`);
    if (s.allowRefusal !== undefined && typeof s.allowRefusal !== 'boolean') errs.push(`${w}.allowRefusal: true or false`);
  });
  return errs;
}

// --- what a condition promises, in words ---

const where = (on) => (on === 'all' || on === 'majority' || on === 'leader' ? t(`lesson.on.${on}`) : `n${on}`);
const ids = (list) => `{${list.join(', ')}}`;

/** The text of a lesson field in the current language ({en, zh}). */
export function say(text) {
  return text?.[language()] || text?.en || '';
}

/** conditionText says in words what a condition promises. */
export function conditionText(cond) {
  if (cond.look) return say(cond.look);
  const kind = kindOf(cond);
  const a = cond[kind];
  switch (kind) {
    case 'leader':
      if (a.is !== undefined) return t('lesson.cond.leaderIs', { node: a.is });
      if (a.isNot !== undefined) return t('lesson.cond.leaderIsNot', { node: a.isNot });
      return t('lesson.cond.leader');
    case 'role': return t('lesson.cond.role', { node: a.node, role: t(`role.${a.is}`) });
    case 'term': {
      const parts = [];
      if (a.atLeast !== undefined) parts.push(t(a.node ? 'lesson.cond.nodeTermAtLeast' : 'lesson.cond.termAtLeast', { node: a.node, term: a.atLeast }));
      if (a.atMost !== undefined) parts.push(t(a.node ? 'lesson.cond.nodeTermAtMost' : 'lesson.cond.termAtMost', { node: a.node, term: a.atMost }));
      return parts.join(t('lesson.cond.and'));
    }
    case 'committed': return t('lesson.cond.committed', { index: a.index, where: where(a.on) });
    case 'applied': return t('lesson.cond.applied', { index: a.index, where: where(a.on) });
    case 'entry': return t('lesson.cond.entry', { node: a.node, index: a.index, term: a.term });
    case 'up': return t('lesson.cond.up', { node: a });
    case 'down': return t('lesson.cond.down', { node: a });
    case 'removed': return t('lesson.cond.removed', { node: a });
    case 'config': {
      const parts = [];
      if (a.voters) parts.push(t('lesson.cond.voters', { ids: ids(a.voters) }));
      if (a.learners) parts.push(t('lesson.cond.learners', { ids: ids(a.learners) }));
      if (a.outgoing) parts.push(a.outgoing.length ? t('lesson.cond.outgoing', { ids: ids(a.outgoing) }) : t('lesson.cond.notJoint'));
      return t('lesson.cond.config', { who: a.node === 'leader' ? t('lesson.on.leader') : `n${a.node}`, what: parts.join(t('lesson.cond.and')) });
    }
    case 'snapshot': return t('lesson.cond.snapshot', { node: a.node, index: a.atLeast });
    case 'snapshotApplied': return t('lesson.cond.snapshotApplied', { node: a.node });
    case 'progress': {
      let s = t('lesson.cond.progress', { peer: a.peer, state: a.state ? t(`lesson.progress.${a.state}`) : '' });
      if (a.matchAtLeast !== undefined) s += t('lesson.cond.match', { index: a.matchAtLeast });
      return s;
    }
    case 'kv': return t('lesson.cond.kv', { node: a.node, key: a.key, value: a.value });
    case 'not': return t('lesson.cond.not', { what: conditionText(a) });
    case 'all': return a.map(conditionText).join(t('lesson.cond.and'));
    case 'any': return a.map(conditionText).join(t('lesson.cond.or'));
    default: return t('lesson.cond.event', { what: JSON.stringify(a) });
  }
}

// --- the runner ---



/**
 * Lessons is the #lesson panel: the list of lessons (the Lessons tab) and
 * the runner of one lesson. main.js calls tick() every frame while the
 * simulation plays, render() after a language change; controls.js calls
 * showList() and close().
 */
export class Lessons {
  constructor(doc, app) {
    this.doc = doc;
    this.app = app;
    this.panel = doc.getElementById('lesson');
    /** lesson ids in teaching order, once loaded */
    this.order = null;
    /** id -> lesson */
    this.cache = {};
    this.error = '';
    /** the lesson running, or null (the list shows, or nothing) */
    this.lesson = null;
    this.k = 0;
    /**
     * Per step, once started: {start, index, next, hold, end, done, h}.
     * start: virtual time it began (before its actions); index: timeline
     * index of its first event; next: the next check point; hold/end: when
     * `until` held and when the step ends, once known; h: the simulator
     * handle (a fork changes it).
     */
    this.recs = [];
    /** the action log (JSON) as the lesson made it, to tell the student's own actions */
    this.log = '[]';
    /** the lesson's speed; a step's pace multiplies it */
    this.pace = DEFAULT_SPEED;
    this.appliedSpeed = 0;
    this.queue = Promise.resolve();
    this.busy = false;
    this.spots = [];
    this.view = '';
    doc.addEventListener('keydown', (ev) => this.onKey(ev));
  }

  // --- loading ---

  async load() {
    if (this.order) return;
    const base = new URL('lessons/', this.doc.baseURI);
    const get = async (name) => {
      const r = await fetch(new URL(name, base));
      if (!r.ok) throw new Error(`${name}: ${r.status} ${r.statusText}`);
      return r.json();
    };
    const index = await get('index.json');
    const lessons = await Promise.all(index.lessons.map((id) => get(`${id}.json`)));
    for (const l of lessons) {
      const errs = validateLesson(l);
      if (errs.length) throw new Error(`${l.id}: ${errs.slice(0, 3).join('; ')}`);
      this.cache[l.id] = l;
    }
    this.order = index.lessons;
  }

  // --- the list ---

  async showList() {
    this.stop();
    this.view = 'list';
    this.panel.hidden = false;
    this.panel.classList.add('lesson-listing');
    try {
      await this.load();
      this.error = '';
    } catch (err) {
      this.error = err.message;
    }
    if (this.view === 'list') this.render();
  }

  renderList() {
    const p = this.panel;
    const list = h('ol', { class: 'lesson-list' });
    for (const id of this.order || []) {
      const l = this.cache[id];
      list.append(h('li', {},
        h('button', { 'data-lesson': id, on: { click: () => this.start(id) } },
          h('strong', { text: say(l.title) }), h('span', { class: 'lesson-summary', text: say(l.summary) }))));
    }
    const kids = [h('h3', { text: t('lesson.list.title') }), h('p', { class: 'lesson-intro', text: t('lesson.list.intro') })];
    if (this.error) kids.push(h('p', { class: 'lesson-error', role: 'alert', text: t('lesson.error', { err: this.error }) }));
    p.replaceChildren(...kids, list);
  }

  // --- one lesson ---

  /** Starts lesson id on a fresh cluster from its configuration. */
  start(id) {
    return this.enqueue(async () => {
      await this.load();
      const l = this.cache[id];
      if (!l) throw new Error(`no lesson ${id}`);
      this.lesson = l;
      this.view = 'lesson';
      this.panel.hidden = false;
      this.panel.classList.remove('lesson-listing');
      this.pace = l.speed || DEFAULT_SPEED;
      this.recs = [];
      this.log = '[]';
      this.app.play(false);
      this.app.newCluster({ ...l.config });
      await this.enter(0);
    });
  }

  /** Runs fn after whatever the buttons asked before: clicks are queued, never refused. */
  enqueue(fn) {
    this.queue = this.queue.then(async () => {
      this.busy = true;
      try {
        await fn();
      } catch (err) {
        this.error = err.message;
        this.app.banner(t('lesson.error', { err: err.message }), true);
      } finally {
        this.busy = false;
      }
    });
    return this.queue;
  }

  get step() { return this.lesson?.steps[this.k]; }

  /**
   * enter starts step k at the time step k-1 ended. When the run still is
   * the lesson's own (the action log is the one the lesson made) the
   * recorded events are the deterministic continuation: a step seen before
   * is simply played again, and a step without actions needs nothing
   * more. Otherwise (the step acts, or the student acted after this
   * point) the run forks there and the step's actions happen.
   */
  async enter(k) {
    const app = this.app;
    const step = this.lesson.steps[k];
    const start = k === 0 ? 0 : this.recs[k - 1].end;
    this.k = k;
    app.play(false);
    if (app.simTime < start) app.pull(start);
    app.seek(start);
    const old = this.recs[k];
    const actions = app.sim.status(app.h).actions;
    const ours = JSON.stringify(actions) === this.log;
    let index;
    if (old && old.start === start && ours) {
      index = old.index;
    } else {
      const acts = step.actions || [];
      if (app.inPast && (acts.length || !ours || actions.some((a) => a.at > start))) {
        await app.fork(start);
        app.banner('');
      }
      index = app.timeline.indexAt(start);
      for (const a of acts) await app.act(a);
      this.log = JSON.stringify(app.sim.status(app.h).actions);
      this.recs.length = k; // later steps belong to another run now
    }
    this.recs[k] = { start, index, next: start, hold: null, end: null, done: false, h: app.h };
    this.show(step);
    this.applySpeed();
    this.render();
    app.play(true);
  }

  /** The lesson's speed times the step's pace. */
  applySpeed() {
    const s = this.pace * (this.step?.pace || 1);
    this.app.setSpeed(s);
    this.appliedSpeed = this.app.speed;
  }

  /** Opens the step's tab, selects its member, points at its parts of the screen. */
  show(step) {
    this.unspot();
    if (step.tab) this.app.setTab(step.tab);
    if (step.select) this.app.select(step.select);
    for (const name of step.highlight || []) {
      const e = this.doc.querySelector(HIGHLIGHTS[name]);
      if (!e) continue;
      e.classList.add('lesson-spot');
      if (e.tagName === 'DETAILS' && !e.open) {
        e.open = true; // the legend: open while pointed at, closed after
        e.dataset.lessonOpened = 'true';
      }
      this.spots.push(e);
    }
  }

  /** Stops pointing at parts of the screen, closing what show() opened. */
  unspot() {
    for (const e of this.spots) {
      e.classList.remove('lesson-spot');
      if (e.dataset.lessonOpened) {
        e.open = false;
        delete e.dataset.lessonOpened;
      }
    }
    this.spots = [];
  }

  /**
   * The model and the step's events at time tt (the run must reach tt).
   * The next step's actions happen at this step's end time: at that
   * moment, they are not part of this step.
   */
  ctxAt(rec, tt) {
    const tl = this.app.timeline;
    let at = tl.indexAt(tt);
    const next = this.recs[this.recs.indexOf(rec) + 1];
    if (next && next.start <= tt) at = Math.min(at, next.index);
    const from = Math.max(rec.index, tl.offset) - tl.offset;
    return { state: tl.stateAtIndex(at, tt), events: tl.events.slice(from, at - tl.offset) };
  }

  /** Checks the run rule of the current step at the check points up to time v. */
  advanceChecks(rec, v) {
    const run = this.step.run;
    if (run.forMs !== undefined) {
      rec.end = rec.start + run.forMs;
      return;
    }
    const until = untilCond(run);
    const last = rec.start + run.maxMs;
    while (rec.end === null && rec.next <= v) {
      if (evaluate(until, this.ctxAt(rec, rec.next))) {
        rec.hold = rec.next;
        rec.end = rec.next + (run.afterMs || 0);
      } else if (rec.next + CHECK_MS > last) {
        rec.end = last;
      }
      rec.next += CHECK_MS;
    }
  }

  /** Forgets what was checked of a step (the student went back, or the run forked). */
  resetChecks(rec) {
    rec.next = rec.start;
    rec.hold = null;
    rec.end = null;
    rec.done = false;
    if (rec.h !== this.app.h) {
      // The run forked (the student acted): the step's events start
      // where its time does, if the fork cut into them.
      rec.h = this.app.h;
      rec.index = Math.min(rec.index, this.app.timeline.indexAt(rec.start));
    }
  }

  tick() {
    if (!this.lesson || this.busy || this.view !== 'lesson') return;
    const app = this.app;
    const rec = this.recs[this.k];
    if (!rec) return;
    if (app.speed !== this.appliedSpeed) {
      // The student moved the speed slider: keep that pace from now on.
      this.pace = app.speed / (this.step.pace || 1);
      this.appliedSpeed = app.speed;
    }
    const v = Math.min(app.viewTime, app.simTime);
    // Scrubbing back into the step, or a fork, means checking again: the
    // step then ends (and pauses) where it ends on this run.
    if (app.h !== rec.h || (rec.done ? v < rec.end : v < rec.next - CHECK_MS)) this.resetChecks(rec);
    if (v < rec.start) return;
    if (!rec.done) {
      this.advanceChecks(rec, v);
      if (rec.end !== null && v >= rec.end) {
        app.seek(rec.end);
        app.play(false);
        rec.done = true;
      }
    }
    this.update();
  }

  /** Makes sure the run reached time tt (pulling ahead in chunks: wasm calls cost more than events). */
  reach(tt, limit) {
    if (this.app.simTime < tt) this.app.pull(Math.max(tt, Math.min(tt + 500, limit)));
  }

  /** Runs the current step to its end at once (Next before it finished). */
  finish() {
    const rec = this.recs[this.k];
    if (rec.done && rec.end !== null) return;
    const run = this.step.run;
    this.resetChecks(rec);
    const limit = rec.start + (run.forMs ?? run.maxMs);
    const { end } = stepEnd(run, rec.start, (tt) => {
      this.reach(tt, limit);
      return evaluate(untilCond(run), this.ctxAt(rec, tt));
    });
    this.reach(end, end);
    rec.end = end;
    rec.done = true;
    this.app.play(false);
    this.app.seek(end);
  }

  next() {
    return this.enqueue(async () => {
      if (!this.lesson) return;
      this.finish();
      if (this.k + 1 < this.lesson.steps.length) await this.enter(this.k + 1);
      else this.render();
    });
  }

  back() {
    return this.enqueue(async () => {
      if (!this.lesson) return;
      const k = Math.max(0, this.k - 1);
      this.k = k;
      const rec = this.recs[k];
      this.app.play(false);
      this.app.seek(rec.start);
      this.resetChecks(rec);
      this.show(this.step);
      this.applySpeed();
      this.render();
    });
  }

  restart() {
    if (this.lesson) return this.start(this.lesson.id);
    return this.queue;
  }

  exit() { this.showList(); }

  /** Stops the lesson; the cluster stays as it is. */
  stop() {
    this.lesson = null;
    this.recs = [];
    this.unspot();
  }

  close() {
    this.stop();
    this.view = '';
    this.panel.hidden = true;
    this.panel.replaceChildren();
  }

  onKey(ev) {
    if (this.view !== 'lesson' || !this.lesson) return;
    if (ev.target.closest?.('input, select, textarea, dialog') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === 'n' || ev.key === 'PageDown') {
      ev.preventDefault();
      this.next();
    } else if (ev.key === 'p' || ev.key === 'PageUp') {
      ev.preventDefault();
      this.back();
    }
  }

  // --- drawing ---

  render() {
    if (this.view === 'list') this.renderList();
    else if (this.view === 'lesson' && this.lesson) this.renderStep();
  }

  renderStep() {
    const l = this.lesson;
    const step = this.step;
    const n = l.steps.length;
    const last = this.k === n - 1;
    const dots = h('ol', { class: 'lesson-dots', 'aria-hidden': 'true' });
    for (let i = 0; i < n; i++) dots.append(h('li', { class: i < this.k ? 'past' : i === this.k ? 'now' : '' }));
    const looks = h('ul', { class: 'lesson-look' });
    for (const c of step.expect || []) looks.append(h('li', {}, h('span', { class: 'mark', 'aria-hidden': 'true' }), h('span', { class: 'what', text: conditionText(c) })));
    const nav = h('div', { class: 'nav' },
      h('button', { class: 'lesson-back', 'data-lesson-nav': 'back', title: t('lesson.backTitle'), on: { click: () => this.back() } }, t('lesson.back')),
      h('button', { class: 'lesson-next primary', 'data-lesson-nav': 'next', title: t('lesson.nextTitle'), on: { click: () => this.next() } }, t(last ? 'lesson.finish' : 'lesson.next')),
      h('span', { class: 'count', text: t('lesson.step', { n: this.k + 1, total: n }) }),
    );
    const tools = h('div', { class: 'lesson-tools' },
      h('button', { 'data-lesson-nav': 'restart', on: { click: () => this.restart() } }, t('lesson.restart')),
      h('button', { 'data-lesson-nav': 'exit', on: { click: () => this.exit() } }, t('lesson.exit')),
    );
    const kids = [
      h('div', { class: 'lesson-head' }, h('h3', { text: say(l.title) })),
      dots,
      h('p', { class: 'lesson-text', 'data-step': String(this.k + 1), text: say(step.text) }),
    ];
    if (step.expect?.length) kids.push(h('div', { class: 'lesson-looks' }, h('h4', { text: t('lesson.look') }), looks));
    kids.push(h('p', { class: 'lesson-status', role: 'status' }), nav, tools);
    this.panel.replaceChildren(...kids);
    this.panel.dataset.lesson = l.id;
    this.panel.dataset.step = String(this.k + 1);
    this.lastStatus = '';
    this.update();
  }

  /** Refreshes the status line and the ticks of the expectations (every frame: no rebuilding). */
  update() {
    if (this.view !== 'lesson' || !this.lesson) return;
    const rec = this.recs[this.k];
    const step = this.step;
    if (!rec || !step) return;
    const app = this.app;
    const v = Math.min(app.viewTime, app.simTime);
    const ctx = v >= rec.start ? this.ctxAt(rec, v) : null;
    const met = (step.expect || []).map((c) => !!ctx && evaluate(c, ctx));
    const last = this.k === this.lesson.steps.length - 1;
    let status;
    if (rec.done) status = last ? t('lesson.complete') : t('lesson.done');
    else if (!app.playing && v <= rec.start) status = t('lesson.paused');
    else if (!app.playing) status = t('lesson.pausedMid');
    else status = t('lesson.running');
    const key = `${status}|${met.join()}`;
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    const items = this.panel.querySelectorAll('.lesson-look li');
    met.forEach((m, i) => {
      const li = items[i];
      if (!li) return;
      li.classList.toggle('met', m);
      li.querySelector('.mark').textContent = m ? '✓' : '○';
      li.setAttribute('aria-label', `${m ? t('lesson.met') : t('lesson.notYet')}: ${li.querySelector('.what').textContent}`);
    });
    const st = this.panel.querySelector('.lesson-status');
    if (st) {
      st.textContent = status;
      st.classList.toggle('done', rec.done);
    }
    this.panel.dataset.done = String(rec.done);
    this.panel.dataset.met = String(met.every(Boolean));
  }
}
