// The real-cluster form: a member's URL and the admin token (kept in this
// tab only), then the live view of every member's events.

import { t } from './i18n.js';

export class LiveUI {
  constructor(doc, app) {
    this.doc = doc;
    this.app = app;
    this.root = doc.createElement('div');
    this.root.className = 'live-connect popover';
    this.root.hidden = true;
    this.root.setAttribute('role', 'dialog');
    doc.querySelector('.stage').appendChild(this.root);
  }

  async defaultURL() {
    // Served by a member: that member is a good start.
    try {
      const r = await fetch('/cluster?local=1');
      if (r.ok) return location.origin;
    } catch { /* the demo server has no /cluster */ }
    return sessionStorage.getItem('raftlab.liveURL') || 'http://127.0.0.1:7001';
  }

  async show() {
    const url = await this.defaultURL();
    const form = this.doc.createElement('form');
    form.innerHTML = `
      <h3></h3><p class="hint"></p>
      <label><span class="l-url"></span> <input name="url" type="url" required></label>
      <label><span class="l-token"></span> <input name="token" type="password" autocomplete="off"></label>
      <div class="buttons"><button type="submit" class="primary" data-act="connect"></button>
      <button type="button" data-act="disconnect"></button></div>`;
    form.querySelector('h3').textContent = t('live.title');
    form.querySelector('.hint').textContent = t('live.hint');
    form.querySelector('.l-url').textContent = t('live.url');
    form.querySelector('.l-token').textContent = t('live.token');
    form.querySelector('[data-act=connect]').textContent = t('live.connect');
    const disc = form.querySelector('[data-act=disconnect]');
    disc.textContent = t('live.disconnect');
    disc.hidden = !this.app.live;
    form.url.value = url;
    form.token.value = sessionStorage.getItem('raftlab.liveToken') || '';
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      sessionStorage.setItem('raftlab.liveURL', form.url.value);
      sessionStorage.setItem('raftlab.liveToken', form.token.value);
      try {
        await this.app.connectLive(form.url.value, form.token.value);
        this.root.hidden = true;
        this.app.banner(t('live.connected', { url: form.url.value }));
      } catch (err) {
        this.app.banner(t('live.failed', { url: form.url.value, err: err.message }), true);
      }
    });
    disc.addEventListener('click', () => {
      this.app.stopLive();
      this.hide();
      this.app.controls.setMode('sim');
    });
    this.root.replaceChildren(form);
    this.root.style.left = '1rem';
    this.root.style.top = '1rem';
    this.root.hidden = false;
    form.url.focus();
  }

  hide() { this.root.hidden = true; }
}
