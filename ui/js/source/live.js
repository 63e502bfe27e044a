// Real cluster source. (Placeholder.)
export class LiveSource {
  constructor(url, token, handlers) { this.url = url; this.handlers = handlers; }
  async start() { throw new Error('not yet'); }
  stop() {}
  act() {}
}
