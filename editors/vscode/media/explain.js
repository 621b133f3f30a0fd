// Explain panel: the extension posts rendered HTML; we put it in place and report back what is shown.
(function () {
  const vscode = acquireVsCodeApi();
  const $ = id => document.getElementById(id);
  let userToggled = false;
  $('reasoning').addEventListener('toggle', () => { userToggled = true; });
  document.addEventListener('click', e => {
    if (e.target && e.target.id === 'cancel') { e.preventDefault(); vscode.postMessage({ type: 'cancel' }); }
    if (e.target && e.target.id === 'set-key') { e.preventDefault(); vscode.postMessage({ type: 'setKey' }); }
  });
  let currentJob;
  window.addEventListener('message', ev => {
    const m = ev.data;
    if (m.type !== 'render') { return; }
    if (m.jobId !== currentJob) { currentJob = m.jobId; userToggled = false; $('reasoning').open = false; }
    $('header').innerHTML = m.header;
    const r = $('reasoning');
    r.hidden = !m.reasoningHtml;
    r.querySelector('summary').textContent = m.reasoningSummary;
    r.querySelector('.reasoning-body').innerHTML = m.reasoningHtml;
    $('content').innerHTML = m.contentHtml;
    $('footer').innerHTML = m.footer;
    vscode.postMessage({ type: 'rendered', jobId: m.jobId, state: m.state, text: $('content').innerText,
      reasoning: r.hidden ? '' : r.querySelector('.reasoning-body').textContent, reasoningOpen: r.open, summary: r.querySelector('summary').textContent });
  });
  vscode.postMessage({ type: 'ready' });
}());
