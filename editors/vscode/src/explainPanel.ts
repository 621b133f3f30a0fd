// Explain: the explanation streams into a side panel as rendered Markdown; reasoning folded ("Thought for N s").
import * as vscode from 'vscode';
import * as path from 'path';
import { JobStream } from './model/stream';
import { renderMarkdown, escapeHtml } from './model/markdown';
import { usageLine } from './model/format';
import { webviewHtml } from './webview';

export interface Rendered { jobId: string; text: string; state: string; reasoning: string; reasoningOpen?: boolean; summary?: string }

export class ExplainPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private job: JobStream | undefined;
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private lastPost = 0;
  /** what the webview last reported it shows (tests read it through the extension's API) */
  lastRendered: Rendered | undefined;
  private readonly renderedEmitter = new vscode.EventEmitter<Rendered>();
  readonly onDidRender = this.renderedEmitter.event;

  constructor(private readonly extUri: vscode.Uri, private readonly cancel: (jobId: string) => void) {}

  /** show `job` in the panel (opening it beside the editor without taking focus) */
  show(job: JobStream): void {
    this.job = job;
    if (!this.panel) {
      this.ready = false;
      this.panel = vscode.window.createWebviewPanel('deepseek.explain', 'DeepSeek: Explain',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [vscode.Uri.joinPath(this.extUri, 'media')] });
      this.panel.iconPath = vscode.Uri.joinPath(this.extUri, 'media', 'deepseek.svg');
      this.panel.webview.html = webviewHtml(this.panel.webview, this.extUri, 'explain.js',
        '<div id="header"></div><details id="reasoning" hidden><summary></summary><div class="reasoning-body"></div></details>' +
        '<div id="content" class="markdown"></div><div id="footer"></div>', 'DeepSeek: Explain');
      this.panel.webview.onDidReceiveMessage(m => this.onMessage(m));
      this.panel.onDidDispose(() => { this.panel = undefined; this.ready = false; });
    } else if (!this.panel.visible) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    this.update(job);
  }

  /** a job changed: re-render at most every 50 ms */
  update(job: JobStream): void {
    if (job !== this.job || !this.panel) { return; }
    const wait = job.done ? 0 : Math.max(0, 50 - (Date.now() - this.lastPost));
    if (this.timer) { if (!job.done) { return; } clearTimeout(this.timer); }
    this.timer = setTimeout(() => { this.timer = undefined; this.post(); }, wait);
  }

  private post(): void {
    const job = this.job;
    if (!job || !this.panel || !this.ready) { return; }
    this.lastPost = Date.now();
    const secs = job.thoughtSeconds();
    const where = job.uri ? `${path.basename(vscode.Uri.parse(job.uri).fsPath)}${job.range ? `:${job.range.start.line + 1}-${job.range.end.line + 1}` : ''}` : '';
    let status = '';
    if (job.state === 'failed') {
      status = `<div class="error">${escapeHtml(job.error?.message ?? 'The request failed.')}` +
        (job.error?.code === 'unauthorized' ? ' <a href="#" id="set-key">Set API key</a>' : '') + '</div>';
    }
    else if (job.state === 'cancelled') { status = '<div class="muted">Cancelled.</div>'; }
    else if (!job.done) { status = '<div class="muted streaming">DeepSeek is writing… <a href="#" id="cancel">Cancel</a></div>'; }
    const notes = job.context?.omitted?.length ? `<div class="muted">Left out of the context: ${escapeHtml(job.context.omitted.join('; '))}</div>` : '';
    void this.panel.webview.postMessage({
      type: 'render', jobId: job.jobId, state: job.state, done: job.done,
      header: `<span class="title">Explain</span> <span class="muted">${escapeHtml(where)}</span>`,
      reasoningSummary: job.reasoning ? (job.thinking ? `Thinking… (${secs ?? 0} s)` : `Thought for ${secs ?? 1} s`) : '',
      reasoningHtml: job.reasoning ? renderMarkdown(job.reasoning) : '',
      contentHtml: renderMarkdown(job.content) || (job.done ? '' : '<p class="muted">…</p>'),
      footer: status + notes + (job.usage ? `<div class="muted usage">${escapeHtml(usageLine(job.usage))}</div>` : ''),
    });
    this.panel.title = job.done ? `DeepSeek: Explain ${where}` : `DeepSeek: Explaining ${where}…`;
  }

  private onMessage(m: { type: string; jobId?: string; text?: string; state?: string; reasoning?: string; reasoningOpen?: boolean; summary?: string }): void {
    if (m.type === 'ready') { this.ready = true; this.post(); }
    else if (m.type === 'cancel' && this.job) { this.cancel(this.job.jobId); }
    else if (m.type === 'setKey') { void vscode.commands.executeCommand('deepseek.setApiKey'); }
    else if (m.type === 'rendered' && m.jobId) {
      this.lastRendered = { jobId: m.jobId, text: m.text ?? '', state: m.state ?? '', reasoning: m.reasoning ?? '', reasoningOpen: m.reasoningOpen, summary: m.summary };
      this.renderedEmitter.fire(this.lastRendered);
    }
  }

  get visible(): boolean { return !!this.panel?.visible; }

  dispose(): void { this.panel?.dispose(); this.renderedEmitter.dispose(); }
}
