// The real-cluster connect form. (Placeholder.)
export class LiveUI {
  constructor(doc, app) { this.doc = doc; this.app = app; }
  show() { this.app.banner('Connecting to a real cluster is not available yet.'); }
  hide() {}
}
