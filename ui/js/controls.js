// Controls: playback, the timeline scrubber, the action bar (client,
// faults, network, cluster) and keyboard shortcuts. Every button ends in
// app.act(action), which forks first when the view is in the past.

import { t, language } from './i18n.js';
import { h } from './dom.js';
import { leaderOf, nodeIds } from './model/state.js';
import { fmtTime, DEFAULT_CONFIG } from './config.js';
import { wallClock } from './render/feed.js';


/** The speed slider is logarithmic: 10^v virtual ms per real ms. */
const speedOf = (v) => 10 ** Number(v);
const fmtSpeed = (s) => (s >= 1 ? `${s.toFixed(s >= 10 ? 0 : 1)}×` : `${s.toPrecision(2).replace(/0+$/, '').replace(/\.$/, '')}×`);

export class Controls {
  constructor(doc, app) {
    this.doc = doc;
    this.app = app;
    const $ = (id) => doc.getElementById(id);
    this.playBtn = $('play');
    this.stepBtn = $('step');
    this.speed = $('speed');
    this.speedOut = $('speed-value');
    this.scrub = $('scrub');
    this.clock = $('clock');
    this.playBtn.addEventListener('click', () => app.play());
    this.stepBtn.addEventListener('click', () => app.stepOnce());
    this.speed.addEventListener('input', () => app.setSpeed(speedOf(this.speed.value)));
    $('quiet').addEventListener('change', (ev) => { app.skipQuiet = ev.target.checked; });
    this.scrub.addEventListener('input', () => { app.playing = false; app.seek(Number(this.scrub.value)); });
    $('language').addEventListener('change', (ev) => app.setLanguage(ev.target.value));
    $('large').addEventListener('click', () => this.toggleLarge());
    $('share').addEventListener('click', () => this.share());
    $('export').addEventListener('click', () => app.exportJSON());
    $('help').addEventListener('click', () => this.help());
    for (const b of doc.querySelectorAll('.inspector [role=tab]')) b.addEventListener('click', () => app.setTab(b.dataset.tab));
    for (const b of doc.querySelectorAll('.modes [role=tab]')) b.addEventListener('click', () => this.setMode(b.dataset.mode));
    doc.addEventListener('keydown', (ev) => this.key_(ev));
    if (localStorage.getItem('raftlab.large') === '1') doc.documentElement.classList.add('large');
    this.buildActions();
  }

  key() { return this.doc.getElementById('act-key')?.value || 'x'; }
  value() { return this.doc.getElementById('act-value')?.value ?? ''; }

  buildActions() {
    const app = this.app;
    const act = (a) => app.act(a);
    const sel = () => app.selected;
    const bar = this.doc.getElementById('actions');
    const keep = (id, def) => this.doc.getElementById(id)?.value ?? def;
    const keyIn = h('input', { id: 'act-key', type: 'text', value: keep('act-key', 'x'), 'aria-label': t('ctl.key'), maxlength: '64' });
    const valIn = h('input', { id: 'act-value', type: 'text', value: keep('act-value', '1'), 'aria-label': t('ctl.value'), maxlength: '256' });
    const client = h('div', { class: 'group', role: 'group', 'aria-label': t('ctl.client') },
      h('strong', { text: t('ctl.client') }), keyIn, valIn,
      h('button', { 'data-act': 'put', text: t('act.put'), on: { click: () => act({ kind: 'put', key: this.key(), value: this.value() }) } }),
      h('button', { 'data-act': 'read', text: t('act.read'), on: { click: () => act({ kind: 'read', node: sel(), key: this.key() }) } }),
      h('button', { 'data-act': 'delete', text: t('act.delete'), on: { click: () => act({ kind: 'delete', key: this.key() }) } }),
    );
    const faults = h('div', { class: 'group sim-only', role: 'group', 'aria-label': t('ctl.faults') },
      h('strong', { text: t('ctl.faults') }),
      h('button', { 'data-act': 'crash-toggle', text: t('act.crash'), on: { click: () => this.crashToggle() } }),
      h('button', { 'data-act': 'partition', text: t('act.partition'), on: { click: () => act({ kind: 'partition', groups: [[sel()]] }) } }),
      h('button', { 'data-act': 'split', text: t('act.split'), on: { click: () => this.split() } }),
      h('button', { 'data-act': 'groups', text: t('act.groups'), on: { click: (ev) => this.partitionBuilder(ev) } }),
      h('button', { 'data-act': 'heal', text: t('act.heal'), on: { click: () => act({ kind: 'heal' }) } }),
    );
    const num = (id, label, min, max, val, step) => h('label', {}, h('span', { text: label }),
      h('input', { id, type: 'number', min, max, value: val, step }));
    const network = h('div', { class: 'group sim-only', role: 'group', 'aria-label': t('ctl.network') },
      h('strong', { text: t('ctl.network') }),
      num('net-loss', t('ctl.loss'), 0, 100, 0, 5), num('net-latency', t('ctl.latency'), 0, 5000, DEFAULT_CONFIG.latencyMs, 10), num('net-jitter', t('ctl.jitter'), 0, 5000, DEFAULT_CONFIG.jitterMs, 10),
      h('button', { 'data-act': 'network', text: t('act.network'), on: { click: () => this.network() } }),
    );
    const cluster = h('div', { class: 'group', role: 'group', 'aria-label': t('ctl.cluster') },
      h('strong', { text: t('ctl.cluster') }),
      h('button', { 'data-act': 'snapshot', text: t('act.snapshot'), on: { click: () => act({ kind: 'snapshot', node: sel() }) } }),
      h('button', { 'data-act': 'transfer', text: t('act.transfer'), on: { click: () => act({ kind: 'transfer', peer: sel() }) } }),
      // A real member is added by starting a raftnode with --join.
      h('button', { 'data-act': 'addNode', class: 'sim-only', text: t('act.addNode'), on: { click: () => act({ kind: 'addNode', peer: this.nextID() }) } }),
      h('button', { 'data-act': 'addLearner', class: 'sim-only', text: t('act.addLearner'), on: { click: () => act({ kind: 'addLearner', peer: this.nextID() }) } }),
      h('button', { 'data-act': 'promote', text: t('act.promote'), on: { click: () => act({ kind: 'promote', peer: sel() }) } }),
      h('button', { 'data-act': 'remove', text: t('act.remove'), on: { click: () => act({ kind: 'remove', peer: sel() }) } }),
    );
    const fresh = h('div', { class: 'group sim-only', role: 'group', 'aria-label': t('ctl.newCluster') },
      num('new-size', t('ctl.size'), 1, 9, DEFAULT_CONFIG.nodes, 1), num('new-seed', t('ctl.seed'), 0, 1e9, 1, 1),
      num('new-tick', t('ctl.tickMs'), 10, 5000, DEFAULT_CONFIG.tickMs, 10), num('new-election', t('ctl.election'), 2, 100, DEFAULT_CONFIG.electionTicks, 1), num('new-heartbeat', t('ctl.heartbeat'), 1, 50, DEFAULT_CONFIG.heartbeatTicks, 1),
      h('button', { 'data-act': 'new-cluster', text: t('ctl.newCluster'), on: { click: () => this.newCluster() } }),
    );
    // Network settings and a new cluster are less frequent: they open from
    // a Settings button, so the bar stays short and the ring gets the room.
    const settings = h('details', { class: 'settings sim-only' }, h('summary', { text: t('ctl.settings') }), h('div', { class: 'settings-body' }, network, fresh));
    bar.replaceChildren(client, faults, cluster, settings);
  }

  nextID() {
    const ids = nodeIds(this.app.state());
    return (ids.length ? Math.max(...ids) : 0) + 1;
  }

  crashToggle() {
    const n = this.app.state().nodes[this.app.selected];
    if (!n) return;
    this.app.act({ kind: n.up ? 'crash' : 'restart', node: n.id });
  }

  split() {
    const ids = nodeIds(this.app.state()).filter((id) => !this.app.state().nodes[id].stopped);
    const half = Math.floor(ids.length / 2);
    this.app.act({ kind: 'partition', groups: [ids.slice(0, half), ids.slice(half)] });
  }

  network() {
    const v = (id) => Number(this.doc.getElementById(id).value);
    this.app.act({ kind: 'network', lossRatio: Math.min(1, Math.max(0, v('net-loss') / 100)), latencyMs: Math.max(0, v('net-latency')), jitterMs: Math.max(0, v('net-jitter')) });
  }

  newCluster() {
    const v = (id) => Number(this.doc.getElementById(id).value);
    const nodes = Math.min(9, Math.max(1, v('new-size') | 0));
    const electionTicks = Math.min(100, Math.max(2, v('new-election') | 0));
    const heartbeatTicks = Math.min(electionTicks - 1, Math.max(1, v('new-heartbeat') | 0));
    const tickMs = Math.min(5000, Math.max(10, v('new-tick') | 0));
    try {
      this.app.newCluster({ ...DEFAULT_CONFIG, nodes, tickMs, electionTicks, heartbeatTicks, seed: Math.max(0, v('new-seed') | 0) });
      this.app.play(true);
    } catch (err) {
      this.app.banner(err.message, true);
    }
  }

  /**
   * partitionBuilder lets a teacher choose the groups: each member is put in
   * group A, B or C by clicking it; members of different groups cannot talk.
   */
  partitionBuilder(ev) {
    const app = this.app;
    const state = app.state();
    const ids = nodeIds(state).filter((id) => !state.nodes[id].stopped);
    const current = state.network.groups || [];
    const groupOf = {};
    ids.forEach((id) => {
      const g = current.findIndex((grp) => grp.includes(id));
      groupOf[id] = g < 0 ? 0 : Math.min(g, 2);
    });
    const names = ['A', 'B', 'C'];
    const pop = app.doc.getElementById('node-menu');
    const row = h('div', { class: 'buttons' });
    const draw = () => {
      row.replaceChildren(...ids.map((id) => h('button', {
        'data-member': id,
        'aria-label': t('groups.member', { id, group: names[groupOf[id]] }),
        text: `n${id}: ${names[groupOf[id]]}`,
        on: { click: () => { groupOf[id] = (groupOf[id] + 1) % 3; draw(); } },
      })));
    };
    draw();
    const apply = h('button', { class: 'primary', 'data-act': 'apply-groups', text: t('groups.apply'), on: { click: () => {
      const groups = [0, 1, 2].map((g) => ids.filter((id) => groupOf[id] === g)).filter((g) => g.length);
      pop.hidden = true;
      app.act(groups.length > 1 ? { kind: 'partition', groups } : { kind: 'heal' });
    } } });
    pop.replaceChildren(h('h3', { text: t('act.groups') }), h('p', { text: t('groups.hint') }), row, h('div', { class: 'buttons' }, apply));
    pop.hidden = false;
    pop.style.left = '1rem';
    pop.style.top = '1rem';
  }

  setMode(mode) {
    for (const b of this.doc.querySelectorAll('.modes [role=tab]')) b.setAttribute('aria-selected', String(b.dataset.mode === mode));
    if (mode === 'live') {
      this.app.lessons.close();
      this.app.liveUI.show();
    } else if (mode === 'lessons') {
      this.app.liveUI.hide();
      this.app.lessons.showList();
    } else {
      this.app.liveUI.hide();
      this.app.lessons.close();
      if (this.app.mode === 'live') this.app.newCluster({ ...DEFAULT_CONFIG, seed: 1 });
      this.app.mode = 'sim';
    }
    this.update();
  }

  toggleLarge() {
    const on = this.doc.documentElement.classList.toggle('large');
    this.doc.getElementById('large').setAttribute('aria-pressed', String(on));
    localStorage.setItem('raftlab.large', on ? '1' : '0');
  }

  async share() {
    const url = this.app.shareURL();
    history.replaceState(null, '', url);
    try {
      await navigator.clipboard.writeText(url);
      this.app.banner(t('ui.copied', { time: fmtTime(this.app.viewTime) }));
    } catch {
      this.app.banner(t('ui.shareFallback', { url }));
    }
  }

  help() {
    const d = this.doc.getElementById('help-dialog');
    const keys = [['Space', 'help.key.space'], ['.', 'help.key.step'], ['← →', 'help.key.arrows'], ['1–9', 'help.key.digits'], ['c', 'help.key.c'], ['w', 'help.key.w'], ['r', 'help.key.r'], ['i', 'help.key.i'], ['h', 'help.key.h'], ['l', 'help.key.l'], ['?', 'help.key.help']];
    const dl = h('dl');
    for (const [k, m] of keys) dl.append(h('dt', {}, h('kbd', { text: k })), h('dd', { text: t(m) }));
    this.doc.getElementById('help-body').replaceChildren(h('h2', { text: t('help.title') }), h('p', { text: t('help.body') }), h('h3', { text: t('help.keys') }), dl);
    d.showModal();
  }

  key_(ev) {
    if (ev.target.closest?.('input, select, textarea, dialog') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const app = this.app;
    const k = ev.key;
    const handled = () => ev.preventDefault();
    if (k === ' ') { handled(); app.play(); } else if (k === '.') { handled(); app.stepOnce(); } else if (k === 'ArrowLeft') { handled(); app.playing = false; app.seek(app.viewTime - 100); } else if (k === 'ArrowRight') { handled(); app.seek(app.viewTime + 100); } else if (/^[1-9]$/.test(k)) { handled(); app.select(Number(k)); } else if (k === 'c') { this.crashToggle(); } else if (k === 'w') { app.act({ kind: 'put', key: this.key(), value: this.value() }); } else if (k === 'r') { app.act({ kind: 'read', node: app.selected, key: this.key() }); } else if (k === 'i') { app.act({ kind: 'partition', groups: [[app.selected]] }); } else if (k === 'h') { app.act({ kind: 'heal' }); } else if (k === 'l') { this.toggleLarge(); } else if (k === '?') { this.help(); }
  }

  /** Updates the playback controls to the app's state. */
  update() {
    const app = this.app;
    this.playBtn.textContent = t(app.playing ? 'ctl.pause' : 'ctl.play');
    this.playBtn.setAttribute('aria-pressed', String(app.playing));
    this.speedOut.textContent = fmtSpeed(app.speed);
    this.speed.value = String(Math.log10(app.speed));
    const live = app.mode === 'live';
    for (const e of this.doc.querySelectorAll('.sim-only')) e.hidden = live;
    this.stepBtn.disabled = live;
    this.doc.getElementById('language').value = language();
    this.updateClock();
  }

  updateClock() {
    const app = this.app;
    const end = app.mode === 'live' ? app.timeline.endTime : app.simTime;
    this.scrub.min = String(Math.floor(app.timeline.startTime));
    this.scrub.max = String(Math.ceil(end));
    this.scrub.value = String(Math.floor(app.viewTime));
    const rel = app.mode === 'live' ? wallClock(app.viewTime) : fmtTime(app.viewTime);
    this.clock.textContent = rel;
    const past = app.inPast && !app.playing;
    this.clock.classList.toggle('past', past);
    const lead = leaderOf(app.state());
    this.clock.title = lead ? `leader n${lead}` : '';
  }
}
