// Lessons. (Placeholder.)
export class Lessons {
  constructor(doc, app) { this.doc = doc; this.app = app; }
  tick() {}
  render() {}
  close() {}
  showList() {}
}
