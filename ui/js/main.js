// The page: wires the source of events (the simulator in wasm, or real
// members), the timeline, the renderers and the controls. Every user
// command has one shape: (fork if in the past,) act, pull the events,
// render.

import { t, setLanguage, preferredLanguage, language } from './i18n.js';
import { Timeline } from './model/timeline.js';
import { leaderOf } from './model/state.js';
import { loadSimulator } from './source/wasm.js';
import { ClusterView } from './render/cluster.js';
import { MessagesView } from './render/messages.js';
import { renderLogs } from './render/logs.js';
import { renderStorage } from './render/storage.js';
import { renderReady } from './render/ready.js';
import { renderProgress } from './render/progress.js';
import { FeedView } from './render/feed.js';
import { renderLegend } from './render/legend.js';
import { Controls } from './controls.js';
import { NodeMenu, MessageDetail } from './render/popovers.js';
import { encodeRun, decodeRun } from './share.js';
import { Lessons } from './lessons.js';
import { LiveSource } from './source/live.js';
import { LiveUI } from './liveui.js';
import { DEFAULT_CONFIG, fmtTime } from './config.js';

/** Events pulled from the simulator per frame at most. */
const MAX_EVENTS_PER_FRAME = 20000;
/**
 * While no message is in flight, a slowed-down simulation runs at this
 * speed at least ("skip quiet time", on by default): election timers fill
 * four times faster than real time, then everything slows down again for
 * the messages, which are what a student needs to follow. At 1x a visitor
 * waited about 2.9 s for the first leader (the randomized election timeout
 * is 1-2 s); at 4x about 1.9 s, most of it the votes in slow motion.
 */
const QUIET_SPEED = 4;

export class App {
  constructor(doc) {
    this.doc = doc;
    this.timeline = new Timeline();
    this.sim = null;
    this.h = 0;
    this.config = null;
    /** the virtual time shown */
    this.viewTime = 0;
    /** the simulator's clock: the end of what it ran */
    this.simTime = 0;
    this.playing = false;
    /** virtual ms per real ms */
    this.speed = 0.2;
    /** run quiet stretches (no message in flight) at QUIET_SPEED */
    this.skipQuiet = true;
    this.selected = 0;
    this.selectedMsg = '';
    this.tab = 'logs';
    this.mode = 'sim';
    this.live = null;
    this.halted = '';
    this.lastFrame = 0;
    this.lastPanelSeq = -1;
    this.reducedMotion = globalThis.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
    this.hidden = doc.hidden;
    /** bumped by anything that changes the drawing without an event */
    this.dirty = 0;
    this.lastKey = '';
    /** frame timings for the performance figure (ms) */
    this.frameTimes = [];
    /** how many times the page drew, and when it first showed a leader */
    this.renders = 0;
    this.firstLeaderAt = 0;
  }

  get tickMs() { return this.config?.tickMs || 100; }

  async start() {
    const doc = this.doc;
    setLanguage(new URLSearchParams(location.search).get('lang') || localStorage.getItem('raftlab.lang') || preferredLanguage(navigator.languages));
    this.cluster = new ClusterView(doc.getElementById('cluster'), { onNode: (id, ev) => this.onNode(id, ev) });
    this.messages = new MessagesView(doc.getElementById('messages'), { onMessage: (k, ev) => this.onMessage(k, ev) });
    this.feed = new FeedView(doc.getElementById('feed'), { select: (id) => this.select(id), seek: (time) => this.seek(time) });
    this.menu = new NodeMenu(doc.getElementById('node-menu'), this);
    this.detail = new MessageDetail(doc.getElementById('message-detail'), this);
    this.controls = new Controls(doc, this);
    this.lessons = new Lessons(doc, this);
    this.liveUI = new LiveUI(doc, this);
    this.translate();
    doc.addEventListener('visibilitychange', () => { this.hidden = doc.hidden; this.dirty++; });
    globalThis.addEventListener?.('resize', () => { this.dirty++; });
    try {
      this.sim = await loadSimulator();
    } catch (err) {
      this.banner(t('err.wasm', { err: err.message }), true);
      throw err;
    }
    const shared = decodeRun(location.hash);
    if (shared) {
      await this.loadRun(shared);
    } else {
      this.newCluster({ ...DEFAULT_CONFIG, seed: randomSeed() });
      this.playing = true;
    }
    this.controls.update();
    requestAnimationFrame((ts) => this.frame(ts));
    doc.documentElement.dataset.ready = 'true';
  }

  translate() {
    for (const e of this.doc.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
    for (const e of this.doc.querySelectorAll('[data-i18n-title]')) e.title = t(e.dataset.i18nTitle);
    renderLegend(this.doc.getElementById('legend-body'));
    this.lastPanelSeq = -1;
    this.dirty++;
    this.feed?.reset();
  }

  setLanguage(code) {
    setLanguage(code);
    localStorage.setItem('raftlab.lang', language());
    this.translate();
    this.controls.buildActions();
    this.controls.update();
    this.lessons.render();
  }

  banner(msg, error = false) {
    const b = this.doc.getElementById('banner');
    b.textContent = msg;
    b.hidden = !msg;
    b.classList.toggle('error', error);
  }

  // --- the simulated cluster ---

  newCluster(config) {
    if (this.h) this.sim.destroy(this.h);
    if (this.live) this.stopLive();
    this.mode = this.mode === 'live' ? 'sim' : this.mode;
    this.config = { ...config };
    this.h = this.sim.create(this.config);
    this.timeline = new Timeline();
    this.viewTime = 0;
    this.simTime = 0;
    this.selected = 0;
    this.selectedMsg = '';
    this.halted = '';
    this.feed.reset();
    this.pull(0);
    this.banner('');
  }

  /** Runs the simulator to time `until` and takes its events. */
  pull(until) {
    let b;
    do {
      b = this.sim.advance(this.h, until, MAX_EVENTS_PER_FRAME);
      this.timeline.push(b.events);
    } while (b.more);
    this.simTime = b.now;
    if (b.halted && !this.halted) {
      this.halted = b.halted;
      this.playing = false;
      this.banner(t('err.halted', { err: b.halted }), true);
    }
  }

  /** Whether the view is behind the simulator: acting now means forking. */
  get inPast() { return this.mode !== 'live' && this.viewTime < this.simTime; }

  /** Performs a simulator action now (forking first if the view is in the past). */
  async act(action) {
    if (this.mode === 'live') return this.live.act(action);
    if (this.inPast) await this.fork(this.viewTime);
    try {
      this.sim.act(this.h, action);
    } catch (err) {
      this.banner(t('err.action', { kind: t(`act.${action.kind}`), err: err.message }));
    }
    this.pull(this.simTime);
    this.controls.update();
  }

  /** Replays the run from its seed and actions up to time tt; the rest is dropped. */
  async fork(tt) {
    const st = this.sim.status(this.h);
    const actions = st.actions.filter((a) => a.at <= tt);
    const h2 = await this.sim.replay(st.config, actions, tt);
    // The replay re-made the events the timeline already holds: drop them.
    let b;
    do { b = this.sim.advance(h2, tt, 100000); } while (b.more);
    this.sim.destroy(this.h);
    this.h = h2;
    this.timeline.truncate(tt);
    this.simTime = tt;
    this.halted = '';
    this.banner(t('ui.forked', { time: fmtTime(tt) }));
  }

  /** Loads a shared run: replays it with all its events. */
  async loadRun(run) {
    this.config = { ...run.config, maxBufferedEvents: 3_000_000 };
    this.h = await this.sim.replay(this.config, run.actions, run.t);
    this.timeline = new Timeline();
    this.feed.reset();
    this.pull(run.t);
    this.viewTime = run.t;
    this.playing = false;
    this.banner(t('ui.loaded', { time: fmtTime(run.t), actions: run.actions.length }));
  }

  shareURL() {
    const st = this.sim.status(this.h);
    const run = { config: st.config, actions: st.actions.filter((a) => a.at <= this.viewTime), t: this.viewTime };
    return `${location.origin}${location.pathname}${encodeRun(run)}`;
  }

  exportJSON() {
    const st = this.mode === 'live' ? null : this.sim.status(this.h);
    const data = { schema: 1, config: st?.config, actions: st?.actions, traceHash: st?.traceHash, events: this.timeline.events };
    const blob = new Blob([JSON.stringify(data)], { type: 'application/json' });
    const a = this.doc.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `raftlab-${this.mode}-${Date.now()}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // --- time ---

  play(on) {
    this.playing = on ?? !this.playing;
    if (this.playing && this.halted) this.playing = false;
    this.controls.update();
  }

  setSpeed(s) { this.speed = s; this.controls.update(); }

  /** Shows time tt (within what was run). */
  seek(tt) {
    const end = this.mode === 'live' ? this.timeline.endTime : this.simTime;
    this.viewTime = Math.max(this.timeline.startTime, Math.min(tt, end));
    this.controls.update();
  }

  /** One scheduled item of the simulator: one tick, delivery or timeout. */
  async stepOnce() {
    this.playing = false;
    if (this.mode === 'live') return;
    if (this.inPast) {
      // Stepping through the past walks the recorded events.
      const i = this.timeline.indexAt(this.viewTime) - this.timeline.offset;
      const next = this.timeline.events[i];
      if (next) this.viewTime = next.time;
      this.controls.update();
      return;
    }
    const b = this.sim.step(this.h);
    this.timeline.push(b.events);
    this.simTime = b.now;
    this.viewTime = b.now;
    this.controls.update();
  }

  frame(ts) {
    const dt = this.lastFrame ? Math.min(ts - this.lastFrame, 100) : 0;
    this.lastFrame = ts;
    const t0 = performance.now();
    if (!this.hidden) this.feed.measure();
    if (this.playing && !this.hidden) {
      this.viewTime += dt * this.pace();
      if (this.mode === 'live') {
        this.viewTime = Math.min(this.viewTime, this.timeline.endTime);
      } else if (this.viewTime > this.simTime) {
        const p0 = performance.now();
        this.pull(this.viewTime);
        this.pullTimes?.push(performance.now() - p0);
        this.viewTime = Math.min(this.viewTime, this.simTime);
      }
      this.lessons.tick();
    }
    // Draw only when something can have changed: a paused page costs
    // nothing but this comparison.
    const key = `${this.viewTime}|${this.timeline.length}|${this.selected}|${this.selectedMsg}|${this.tab}|${language()}|${this.dirty}`;
    if (!this.hidden && key !== this.lastKey) {
      this.lastKey = key;
      this.render();
    }
    const spent = performance.now() - t0;
    this.frameTimes.push(spent);
    if (this.frameTimes.length > 600) this.frameTimes.shift();
    requestAnimationFrame((x) => this.frame(x));
  }

  state() { return this.timeline.stateAt(this.viewTime); }

  /** The speed this frame plays at: faster through quiet stretches. */
  pace() {
    if (!this.skipQuiet || this.mode === 'live' || this.speed >= QUIET_SPEED) return this.speed;
    const msgs = this.state().messages;
    for (const k in msgs) {
      const m = msgs[k];
      if (m.status === 'flying' && m.sentAt <= this.viewTime) return this.speed;
    }
    return QUIET_SPEED;
  }

  render() {
    this.renders++;
    const state = this.state();
    const view = {
      t: this.viewTime,
      tickMs: this.tickMs,
      selected: this.selected,
      selectedMsg: this.selectedMsg,
      reducedMotion: this.reducedMotion,
      showHeartbeats: true,
      live: this.mode === 'live',
    };
    this.cluster.render(state, view);
    view.pos = this.cluster.pos;
    this.messages.render(state, view);
    const lead = leaderOf(state);
    if (lead && !this.firstLeaderAt) this.firstLeaderAt = performance.now();
    if (!this.selected || !state.nodes[this.selected]) this.selected = lead || Number(Object.keys(state.nodes)[0]) || 0;
    const panelKey = `${state.seq}:${this.selected}:${this.tab}:${language()}`;
    if (panelKey !== this.lastPanelSeq) {
      this.lastPanelSeq = panelKey;
      const p0 = performance.now();
      this.renderPanel(state, view);
      this.panelTimes?.push(performance.now() - p0);
      this.controls.updateClock();
    }
    this.feed.render(this.timeline, this.viewTime, this.playing ? 100 : 0);
    this.detail.refresh(state, view);
  }

  renderPanel(state, view) {
    const panel = this.doc.getElementById(`panel-${this.tab}`);
    const helpers = { select: (id) => this.select(id), seek: (tt) => this.seek(tt) };
    switch (this.tab) {
      case 'logs': renderLogs(panel, state, view, helpers); break;
      case 'storage': renderStorage(panel, state, view, helpers); break;
      case 'ready': renderReady(panel, state, view, helpers); break;
      case 'progress': renderProgress(panel, state, view, helpers); break;
      default: break;
    }
  }

  setTab(tab) {
    this.dirty++;
    this.tab = tab;
    for (const b of this.doc.querySelectorAll('.inspector [role=tab]')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    for (const p of this.doc.querySelectorAll('.inspector .panel')) p.hidden = p.id !== `panel-${tab}`;
    this.lastPanelSeq = -1;
  }

  select(id) {
    this.dirty++;
    this.selected = id;
    this.lastPanelSeq = -1;
    this.controls.update();
  }

  onNode(id, ev) {
    this.select(id);
    this.menu.open(id, ev);
  }

  onMessage(key, ev) {
    this.dirty++;
    this.selectedMsg = key;
    this.detail.open(key, ev);
  }

  // --- real clusters ---

  async connectLive(url, token) {
    this.playing = false;
    if (this.live) this.stopLive();
    this.mode = 'live';
    this.timeline = new Timeline();
    this.feed.reset();
    this.selected = 0;
    this.live = new LiveSource(url, token, {
      events: (evs) => {
        this.timeline.push(evs);
        if (this.playing) this.viewTime = this.timeline.endTime;
      },
      status: (msg, error) => this.banner(msg, error),
    });
    await this.live.start();
    this.config = { tickMs: this.live.tickMs || 100 };
    this.viewTime = this.timeline.endTime;
    this.speed = 1;
    this.playing = true;
    this.controls.update();
  }

  stopLive() {
    this.live?.stop();
    this.live = null;
  }
}

function randomSeed() {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0] % 1_000_000;
}

if (typeof document !== 'undefined' && !globalThis.RAFTLAB_NO_AUTOSTART) {
  const app = new App(document);
  globalThis.raftlabApp = app;
  app.start().catch((err) => console.error(err));
}
