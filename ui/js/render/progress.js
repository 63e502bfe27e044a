// The leader's view of its followers. (Placeholder.)
export function renderProgress(panel, state) {
  const lead = Object.values(state.nodes).find((n) => n.up && n.role === 'leader');
  panel.textContent = lead ? JSON.stringify(lead.progress) : '';
}
