// The event feed: what happens, in plain language, newest at the bottom.
// Each line names the member and links to the moment: click it to select
// the member and move the timeline there.

import { t } from '../i18n.js';

/** Lines kept in the feed. */
const MAX_LINES = 200;

/**
 * describe turns an event into a line for people, or null for events the
 * feed leaves out (storage writes, timers; messages unless asked).
 * @returns {{text:string, cls?:string}|null}
 */
export function describe(e, opts = {}) {
  switch (e.kind) {
    case 'start':
      return e.start.restart
        ? { text: t('feed.restart', { term: e.start.term, commit: e.start.commit, applied: e.start.applied }), cls: 'important' }
        : null;
    case 'crash': return { text: t('feed.crash', { lost: new Set(e.lost || []).size }), cls: 'bad important' };
    case 'stop': return { text: t('feed.stop', { error: e.error }), cls: 'bad important' };
    case 'role': {
      const r = e.role;
      if (r.role === 'leader') return { text: t('feed.leader', { term: r.term }), cls: 'important' };
      if (r.role === 'candidate') return { text: t('feed.candidate', { term: r.term }) };
      if (r.role === 'preCandidate') return { text: t('feed.preCandidate', { term: r.term + 1 }) };
      return { text: r.lead ? t('feed.followerOf', { term: r.term, lead: r.lead }) : t('feed.follower', { term: r.term }) };
    }
    case 'vote': {
      const v = e.vote;
      const pre = v.pre ? t('vote.pre') : '';
      if (v.decision === 'requested') return opts.messages ? { text: t('feed.voteRequested', { voter: v.voter, pre, term: v.term }) } : null;
      if (v.candidate === v.voter) return { text: t('feed.voteSelf', { pre, term: v.term }) };
      return { text: t(v.decision === 'granted' ? 'feed.voteGranted' : 'feed.voteRejected', { candidate: v.candidate, pre, term: v.term }), cls: v.decision === 'rejected' ? 'bad' : '' };
    }
    case 'send':
    case 'deliver':
      return opts.messages ? { text: t(`feed.${e.kind}`, { type: e.msg.type, from: e.msg.from, to: e.msg.to, term: e.msg.term }) } : null;
    case 'drop':
      if (!opts.messages && (e.msg.type === 'MsgHeartbeat' || e.msg.type === 'MsgHeartbeatResp')) return null;
      return { text: t('feed.drop', { type: e.msg.type, from: e.msg.from, to: e.msg.to, reason: e.msg.reason || '' }), cls: 'bad' };
    case 'commit': return { text: t('feed.commit', { from: e.commit.from, to: e.commit.to }) };
    case 'apply': {
      const datas = (e.apply.entries || []).map((x) => x.data || t('logs.noop'));
      return { text: t('feed.apply', { from: e.apply.from, to: e.apply.to, what: datas.slice(0, 3).join(', ') + (datas.length > 3 ? '…' : '') }) };
    }
    case 'snapshot': {
      const s = e.snapshot;
      return { text: t(`feed.snapshot.${s.phase}`, { index: s.index, term: s.term, peer: s.peer || '', size: s.size }), cls: s.failed ? 'bad' : 'important' };
    }
    case 'compact': return { text: t('feed.compact', { index: e.compact.index }) };
    case 'confChange': {
      const c = e.confChange;
      return { text: t(`feed.conf.${c.phase}`, { changes: c.changes || t('feed.conf.leave'), reason: c.reason || '', voters: c.confState ? c.confState.voters.join(' ') : '' }), cls: c.phase === 'refused' ? 'bad important' : 'important' };
    }
    case 'transfer': return { text: t(`feed.transfer.${e.transfer.phase}`, { from: e.transfer.from, to: e.transfer.to }), cls: 'important' };
    case 'read': {
      const r = e.read;
      return { text: t(`feed.read.${r.phase}`, { key: r.key, index: r.index || 0, value: r.found ? JSON.stringify(r.value) : t('feed.read.notFound'), error: r.error || '' }), cls: r.phase === 'failed' ? 'bad' : '' };
    }
    case 'proposal': {
      const p = e.proposal;
      return { text: t(`feed.proposal.${p.phase}`, { command: p.command, index: p.index || 0, error: p.error || '' }), cls: p.phase === 'failed' ? 'bad' : '' };
    }
    case 'network': {
      const n = e.network;
      const parts = [];
      if (n.groups && n.groups.length) parts.push(t('feed.net.groups', { groups: n.groups.map((g) => g.map((x) => `n${x}`).join(' ')).join(' | ') }));
      if (n.cuts && n.cuts.length) parts.push(t('feed.net.cuts', { cuts: n.cuts.map(([a, b]) => `n${a}→n${b}`).join(', ') }));
      if (!parts.length) parts.push(t('feed.net.whole'));
      parts.push(t('feed.net.settings', { latency: n.latencyMs, jitter: n.jitterMs, loss: Math.round(n.lossRatio * 100) }));
      return { text: parts.join('; ') };
    }
    case 'log':
      return opts.messages || e.log.level !== 'info' && e.log.level !== 'debug' ? { text: t('feed.raftLog', { level: e.log.level, text: e.log.text }) } : null;
    case 'dropped': return { text: t('feed.eventsDropped', { count: e.dropped.count }), cls: 'bad' };
    default: return null;
  }
}

/** A real member's time of day, to the millisecond, 24-hour. */
export function wallClock(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export class FeedView {
  /**
   * @param {HTMLOListElement} ol
   * @param {{select:(id:number)=>void, seek:(t:number)=>void}} helpers
   */
  constructor(ol, helpers) {
    this.ol = ol;
    this.helpers = helpers;
    this.until = -1; // absolute index of the next event to show
    this.lastAt = 0;
    // Whether the list was scrolled to its end, and whether to scroll it
    // there: read and written by measure, at the start of a frame.
    this.atBottom = true;
    this.pin = false;
    this.messages = false;
    const box = document.getElementById('feed-messages');
    box?.addEventListener('change', () => { this.messages = box.checked; this.reset(); });
    ol.addEventListener('click', (ev) => {
      const li = ev.target.closest('li');
      if (!li) return;
      if (li.dataset.node) this.helpers.select(Number(li.dataset.node));
      this.helpers.seek(Number(li.dataset.time));
    });
  }

  reset() {
    this.until = -1;
    this.atBottom = true;
    this.ol.replaceChildren();
  }

  line(e) {
    const d = describe(e, { messages: this.messages });
    if (!d) return null;
    const li = document.createElement('li');
    li.dataset.seq = e.seq;
    li.dataset.time = e.time;
    li.dataset.kind = e.kind;
    if (e.node) li.dataset.node = e.node;
    if (d.cls) li.className = d.cls;
    const tm = document.createElement('span');
    tm.className = 't';
    tm.textContent = e.time > 1e12 ? wallClock(e.time) : (e.time / 1000).toFixed(3);
    const who = document.createElement('span');
    who.className = 'n';
    who.textContent = e.node ? `n${e.node}` : '';
    const txt = document.createElement('span');
    txt.textContent = d.text;
    li.append(tm, who, txt);
    return li;
  }

  /**
   * Keeps the list at its end when it was there, and notes whether it is.
   * Call it at the start of a frame, before anything changes the page: the
   * layout is still clean then, so reading the scroll position costs
   * nothing, while reading it after the frame's changes made the browser lay
   * out the whole page in the middle of the frame (5-14 ms with nine members).
   */
  measure() {
    const ol = this.ol;
    if (this.pin) {
      this.pin = false;
      ol.scrollTop = ol.scrollHeight;
    }
    this.atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
  }

  /**
   * Shows the events up to time tt. While playing, the feed is refreshed at
   * most every throttleMs of real time: lines that scroll by faster than
   * anyone reads are not worth a frame.
   */
  render(timeline, tt, throttleMs = 0) {
    const end = timeline.indexAt(tt);
    if (end === this.until) return;
    const now = performance.now();
    if (throttleMs && now - this.lastAt < throttleMs && end > this.until && this.until >= 0) return;
    this.lastAt = now;
    const from = end < this.until || this.until < 0 ? timeline.offset : Math.max(this.until, timeline.offset);
    // Only the newest MAX_LINES lines can be shown: build those, newest
    // first, and stop.
    const lines = [];
    const cap = throttleMs ? MAX_LINES / 2 : MAX_LINES;
    for (let i = end - 1; i >= from && lines.length < cap; i--) {
      const li = this.line(timeline.events[i - timeline.offset]);
      if (li) lines.push(li);
    }
    lines.reverse();
    if (from === timeline.offset || lines.length >= cap) this.ol.replaceChildren(...lines);
    else this.ol.append(...lines);
    let extra = this.ol.childElementCount - MAX_LINES;
    while (extra-- > 0) this.ol.firstElementChild.remove();
    this.until = end;
    // Scrolled to the end at the next frame's start (measure).
    if (this.atBottom) this.pin = true;
  }
}
