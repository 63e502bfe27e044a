// The timeline: every event of a run, in order, with checkpoints of the
// model so that any moment can be shown again quickly. Scrubbing back only
// re-folds events (the model is pure); acting in the past forks the run
// (the simulator replays its seed and the truncated action log).

import { newState, apply } from './state.js';

/** A copy of a model state, for a checkpoint. */
const clone = (s) => structuredClone(s);

export class Timeline {
  /**
   * @param {{checkpointEvery?: number, maxEvents?: number}} [opts]
   */
  constructor(opts = {}) {
    this.checkpointEvery = opts.checkpointEvery ?? 4000;
    this.maxEvents = opts.maxEvents ?? 1_500_000;
    /** @type {import('./events.js').Event[]} */
    this.events = [];
    /** index of the first event still held (older ones were dropped) */
    this.offset = 0;
    /** {at: index after the checkpoint's last event, time, state} */
    this.checkpoints = [{ at: 0, time: 0, state: newState() }];
    /** the state after every event */
    this.head = newState();
    /** a cache of the last state computed by stateAt */
    this.cursor = { at: 0, state: newState() };
  }

  /** Appends events (in order) and folds them into the head state. */
  push(events) {
    for (const e of events) {
      this.events.push(e);
      apply(this.head, e);
      const at = this.offset + this.events.length;
      if (at % this.checkpointEvery === 0) {
        this.checkpoints.push({ at, time: e.time, state: clone(this.head) });
      }
    }
    if (this.events.length > this.maxEvents) this.dropOldest(this.events.length - this.maxEvents);
  }

  dropOldest(n) {
    // Keep whole checkpoint spans: cut at a checkpoint so any kept moment
    // can still be rebuilt.
    const cut = this.checkpoints.findLast((c) => c.at <= this.offset + n && c.at > this.offset);
    if (!cut) return;
    this.events.splice(0, cut.at - this.offset);
    this.offset = cut.at;
    this.checkpoints = this.checkpoints.filter((c) => c.at >= cut.at);
    if (this.cursor.at < this.offset) this.cursor = { at: cut.at, state: clone(cut.state) };
  }

  /** The time of the first and last event held. */
  get startTime() { return this.checkpoints[0].time; }
  get endTime() { return this.events.length ? this.events[this.events.length - 1].time : this.startTime; }
  get length() { return this.offset + this.events.length; }

  /** The index (absolute) after the last event at or before time t. */
  indexAt(t) {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid].time <= t) lo = mid + 1;
      else hi = mid;
    }
    return this.offset + lo;
  }

  /** The model after the events at or before time t. */
  stateAt(t) {
    if (t >= this.endTime) return this.head;
    return this.stateAtIndex(this.indexAt(t), t);
  }

  /** The model after the first `at` events (absolute index). */
  stateAtIndex(at, t) {
    if (at >= this.length) return this.head;
    let base = this.cursor;
    if (base.at > at || at - base.at > this.checkpointEvery) {
      const cp = this.checkpoints.findLast((c) => c.at <= at);
      base = { at: cp.at, state: clone(cp.state) };
    }
    for (let i = base.at; i < at; i++) apply(base.state, this.events[i - this.offset]);
    base.at = at;
    if (t !== undefined) base.state.time = Math.max(base.state.time, t);
    this.cursor = base;
    return base.state;
  }

  /** Events with time in (t0, t1]. */
  between(t0, t1) {
    return this.events.slice(this.indexAt(t0) - this.offset, this.indexAt(t1) - this.offset);
  }

  /** Drops every event after time t (a fork): the run goes on from there. */
  truncate(t) {
    const at = this.indexAt(t);
    // The state at the cut is computed before the events after it go.
    const head = clone(this.stateAtIndex(at, t));
    this.events.length = at - this.offset;
    this.checkpoints = this.checkpoints.filter((c) => c.at <= at);
    this.head = head;
    this.head.time = Math.max(this.head.time, t);
    this.cursor = { at, state: clone(this.head) };
  }
}
