// Chat: a webview view that streams replies as rendered Markdown, reasoning folded, code blocks with
// Insert / Apply to selection, sessions list and resume, usage per turn.
import * as vscode from 'vscode';
import { JobStream } from './model/stream';
import { renderMarkdown, escapeHtml } from './model/markdown';
import { usageLine } from './model/format';
import { webviewHtml } from './webview';
import type { ServerManager } from './client';

interface Turn {
  id: string;
  user: string;
  jobId?: string;
  /** for turns loaded from history */
  content?: string;
  reasoning?: string;
  usage?: Record<string, unknown>;
  state?: string;
  error?: string;
  notices?: string[];
  attachments?: string[];
  thought?: number;
}

interface HistoryMessage { id: string; turn?: string; role: string; content: string; status?: string; reasoning?: string; usage?: Record<string, unknown>; attachments?: { label: string; title: string }[] }

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'deepseek.chat';
  private view: vscode.WebviewView | undefined;
  private ready = false;
  sessionId: string | undefined;
  title: string | undefined;
  turns: Turn[] = [];
  private timer: NodeJS.Timeout | undefined;
  private turnCounter = 0;
  /** editor + selection the chat last saw, for #selection and "attach selection" */
  private lastEditor: vscode.TextEditor | undefined;
  private disposables: vscode.Disposable[] = [];
  /** the webview's last report of what it shows (tests read it) */
  lastRendered: { turns: { user: string; text: string; state: string }[]; header?: string } | undefined;
  private readonly renderedEmitter = new vscode.EventEmitter<void>();
  readonly onDidRender = this.renderedEmitter.event;

  constructor(private readonly extUri: vscode.Uri, private readonly server: ServerManager,
    private readonly state: vscode.Memento) {
    this.sessionId = state.get<string>('deepseek.chat.sessionId');
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(vscode.window.onDidChangeActiveTextEditor(e => { if (e) { this.lastEditor = e; } }));
    // a restarted server numbers its jobs afresh: finished turns keep their snapshot, not the old id
    this.disposables.push(server.onDidForgetJobs(() => {
      for (const t of this.turns) { if (t.content !== undefined) { t.jobId = undefined; } }
    }));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extUri, 'media')] };
    view.webview.html = webviewHtml(view.webview, this.extUri, 'chat.js',
      `<div id="session"></div><div id="turns"></div>
       <form id="composer"><textarea id="input" rows="3" placeholder="Ask DeepSeek… (/help, #selection, #file:path) — Enter sends, Shift+Enter new line"></textarea>
       <div class="row"><label><input type="checkbox" id="attach"> attach selection</label>
       <span class="spacer"></span><button type="button" id="stop" hidden>Stop</button><button type="submit" id="send">Send</button></div></form>`, 'DeepSeek Chat');
    view.webview.onDidReceiveMessage(m => this.onMessage(m), undefined, this.disposables);
    view.onDidDispose(() => { this.view = undefined; this.ready = false; });
    view.onDidChangeVisibility(() => { if (view.visible) { this.schedule(true); } });
    if (this.sessionId && this.turns.length === 0) { void this.load(this.sessionId); }
  }

  private async onMessage(m: { type: string; text?: string; attach?: boolean; code?: string; turns?: { user: string; text: string; state: string }[]; header?: string }): Promise<void> {
    switch (m.type) {
      case 'ready': this.ready = true; this.schedule(true); break;
      case 'send': if (m.text?.trim()) { await this.send(m.text, { attachSelection: !!m.attach }).catch(e => this.fail(e)); } break;
      case 'stop': await this.stop(); break;
      case 'insert': await this.insertCode(m.code ?? '', false); break;
      case 'apply': await this.insertCode(m.code ?? '', true); break;
      case 'copy': await vscode.env.clipboard.writeText(m.code ?? ''); break;
      case 'setKey': await vscode.commands.executeCommand('deepseek.setApiKey'); break;
      case 'sessions': await this.pickSession(); break;
      case 'new': this.newSession(); break;
      case 'rendered': this.lastRendered = { turns: m.turns ?? [], header: typeof m.header === 'string' ? m.header : '' }; this.renderedEmitter.fire(); break;
    }
  }

  private fail(e: unknown): void {
    void vscode.window.showErrorMessage(`DeepSeek chat: ${e instanceof Error ? e.message : String(e)}`);
  }

  /** Send one message. Attaches the editor's selection when asked, or when the message names #selection etc. */
  async send(text: string, opts: { attachSelection?: boolean; editor?: vscode.TextEditor } = {}): Promise<JobStream | undefined> {
    const args: Record<string, unknown> = { message: text };
    if (this.sessionId) { args.sessionId = this.sessionId; }
    const editor = opts.editor ?? vscode.window.activeTextEditor ?? this.lastEditor;
    const wantsCode = opts.attachSelection || /(^|\s)#(selection|buffer|file|diagnostics)\b/.test(text) || /^\s*\/(explain|fix|tests|doc|refactor)\b/.test(text);
    if (editor && wantsCode && editor.document.uri.scheme !== 'output') {
      args.uri = editor.document.uri.toString();
      const s = editor.selection;
      if (!s.isEmpty) { args.range = { start: { line: s.start.line, character: s.start.character }, end: { line: s.end.line, character: s.end.character } }; }
      if (/(^|\s)\/fix\b|#diagnostics/.test(text) && this.server.client) {
        args.diagnostics = await this.server.client.code2ProtocolConverter.asDiagnostics(vscode.languages.getDiagnostics(editor.document.uri));
      }
    }
    const turn: Turn = { id: `t${++this.turnCounter}`, user: text };
    this.turns.push(turn);
    this.schedule(true);
    try {
      const started = await this.server.startJob('deepseek.chat', args);
      if (!started) { // a large request the user chose not to send
        turn.state = 'cancelled'; turn.content = ''; turn.error = 'Not sent: you chose not to send this large request.';
        this.schedule(true);
        return undefined;
      }
      const { job, result } = started;
      turn.jobId = job.jobId;
      if (typeof result.sessionId === 'string' && result.sessionId !== this.sessionId) {
        this.sessionId = result.sessionId;
        void this.state.update('deepseek.chat.sessionId', this.sessionId);
      }
      this.schedule(true);
      return job;
    } catch (e) {
      turn.state = 'failed';
      turn.error = e instanceof Error ? e.message : String(e);
      this.schedule(true);
      throw e;
    }
  }

  /** a chat job changed */
  update(job: JobStream): void {
    if (job.kind !== 'chat') { return; }
    if (!this.turns.some(t => t.jobId === job.jobId)) {
      // a chat turn started elsewhere (a code action, another command): show it if it is this session's
      if (job.sessionId && job.sessionId !== this.sessionId) { return; }
      if (!this.server.meta.has(job.jobId)) { return; }
      const meta = this.server.meta.get(job.jobId)!;
      if (this.turns.some(t => t.jobId === undefined)) { return; } // our own send, not answered yet
      this.turns.push({ id: `t${++this.turnCounter}`, user: String(meta.args.message ?? ''), jobId: job.jobId });
    }
    if (job.done) {
      // keep the finished turn's text with the turn: the job store forgets old jobs
      const turn = this.turns.find(t => t.jobId === job.jobId);
      if (turn) {
        Object.assign(turn, { content: job.content, reasoning: job.reasoning, usage: job.usage, state: job.state,
          error: job.error?.message, notices: [...(turn.notices ?? []), ...job.notices],
          attachments: job.attachments.map(a => `${a.label} (${a.title})`) });
        turn.thought = job.thoughtSeconds();
      }
    }
    if (job.done && job.sessionId && job.sessionId !== this.sessionId) {
      this.sessionId = job.sessionId;
      void this.state.update('deepseek.chat.sessionId', this.sessionId);
    }
    if (job.done) { void this.refreshTitle(); }
    this.schedule(job.done);
  }

  /** the server names a session after its first turn (and on /rename): show that name, not the id */
  private async refreshTitle(): Promise<void> {
    const id = this.sessionId;
    if (!id) { return; }
    try {
      const h = await this.server.request<{ sessionId?: string; title?: string }>('deepseek.chat.history', { sessionId: id });
      if (this.sessionId !== id || h.title === this.title) { return; }
      this.title = h.title || undefined;
      this.schedule(true);
    } catch (e) { this.log(`title: ${e}`); }
  }

  /** the header: the session's title, else "New chat" (the id only in the tooltip) */
  get header(): string { return this.title?.trim() || 'New chat'; }

  private schedule(now = false): void {
    if (this.timer) { if (!now) { return; } clearTimeout(this.timer); }
    this.timer = setTimeout(() => { this.timer = undefined; this.post(); }, now ? 0 : 50);
  }

  private post(): void {
    if (!this.view || !this.ready) { return; }
    const turns = this.turns.map(t => {
      const live = t.jobId ? this.server.jobs.get(t.jobId) : undefined;
      const job = live && !(live.done && t.content !== undefined) ? live : undefined; // finished turns use their snapshot
      const content = job ? job.content : (t.content ?? '');
      const reasoning = job ? job.reasoning : (t.reasoning ?? '');
      const state = job ? job.state : (t.state ?? (t.content !== undefined ? 'done' : t.jobId ? 'streaming' : 'sending'));
      const secs = job ? job.thoughtSeconds() : t.thought;
      const usage = job?.usage ?? t.usage;
      const notices = job ? [...(t.notices ?? []), ...job.notices] : (t.notices ?? []);
      const attachments = job ? job.attachments.map(a => `${a.label} (${a.title})`) : (t.attachments ?? []);
      const error = job ? job.error?.message : t.error;
      return {
        id: t.id, state, done: job ? job.done : state !== 'streaming' && state !== 'sending',
        // (a turn loaded from history or finished earlier is shown from its snapshot)
        userHtml: escapeHtml(t.user),
        attachments: attachments.map(escapeHtml),
        reasoningSummary: reasoning ? (job?.thinking ? `Thinking… (${secs ?? 0} s)` : secs ? `Thought for ${secs} s` : 'Reasoning') : '',
        reasoningHtml: reasoning ? renderMarkdown(reasoning) : '',
        contentHtml: renderMarkdown(content, { codeActions: true }),
        notices: notices.map(n => escapeHtml(n)),
        error: error ? escapeHtml(error) : '', errorCode: job?.error?.code ?? (live?.error?.code ?? ''),
        usage: usage ? escapeHtml(usageLine(usage as never)) : '',
      };
    });
    const busy = this.turns.some(t => {
      const j = t.jobId ? this.server.jobs.get(t.jobId) : undefined;
      return j ? j.running : t.jobId === undefined && t.content === undefined && t.state !== 'failed';
    });
    void this.view.webview.postMessage({
      type: 'state', turns, busy,
      session: this.title?.trim() ? `<span title="${escapeHtml(this.sessionId ?? '')}">${escapeHtml(this.header)}</span>` : '<span class="muted">New chat</span>',
    });
  }

  async stop(): Promise<void> {
    for (const t of this.turns) {
      const job = t.jobId ? this.server.jobs.get(t.jobId) : undefined;
      if (job?.running) { await this.server.request('deepseek.cancel', { jobId: job.jobId }).catch(() => undefined); }
    }
  }

  newSession(): void {
    this.sessionId = undefined; this.title = undefined; this.turns = [];
    void this.state.update('deepseek.chat.sessionId', undefined);
    this.schedule(true);
  }

  /** list sessions (deepseek.chat.sessions) and resume the chosen one */
  async pickSession(): Promise<void> {
    let res: { sessions?: { sessionId: string; title?: string; updated?: string; messages?: number; preview?: string }[] };
    try { res = await this.server.request('deepseek.chat.sessions', { limit: 50 }); } catch (e) { this.fail(e); return; }
    const items = (res.sessions ?? []).map(s => ({
      label: s.title || s.preview || s.sessionId, description: `${s.messages ?? 0} messages · ${s.updated ?? ''}`,
      detail: s.preview, sessionId: s.sessionId,
    }));
    if (!items.length) { void vscode.window.showInformationMessage('DeepSeek: no chat sessions yet.'); return; }
    const pick = await vscode.window.showQuickPick(items, { title: 'DeepSeek: resume a chat', matchOnDetail: true });
    if (pick) { await this.load(pick.sessionId); await this.reveal(); }
  }

  /** resume a session: its stored messages become the view's turns */
  async load(sessionId: string): Promise<void> {
    let h: { sessionId: string; title?: string; messages?: HistoryMessage[] };
    try { h = await this.server.request('deepseek.chat.history', { sessionId }); } catch (e) { this.log(`history: ${e}`); return; }
    this.sessionId = h.sessionId ?? sessionId;
    this.title = h.title;
    void this.state.update('deepseek.chat.sessionId', this.sessionId);
    const turns: Turn[] = [];
    let cur: Turn | undefined;
    for (const m of h.messages ?? []) {
      if (m.role === 'user') {
        cur = { id: `t${++this.turnCounter}`, user: m.content, content: '', state: m.status === 'ok' ? 'done' : m.status,
          attachments: (m.attachments ?? []).map(a => `${a.label} (${a.title})`) };
        turns.push(cur);
      } else if ((m.role === 'assistant' || m.role === 'notice') && cur) {
        cur.content = (cur.content ?? '') + m.content; cur.reasoning = m.reasoning; cur.usage = m.usage;
        if (m.status && m.status !== 'ok') { cur.state = m.status; }
      } else if (m.role === 'summary' || m.role === 'reset') {
        turns.push({ id: `t${++this.turnCounter}`, user: '', content: '', state: 'done', notices: [m.role === 'reset' ? 'History cleared (/clear).' : 'Older turns were summarized.'] });
      }
    }
    this.turns = turns;
    this.schedule(true);
  }

  private log(m: string): void { this.server.log(m); }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${ChatView.viewId}.focus`);
  }

  /** put a code block at the cursor, or over the selection */
  private async insertCode(code: string, replaceSelection: boolean): Promise<void> {
    const editor = vscode.window.activeTextEditor ?? this.lastEditor;
    if (!editor) { void vscode.window.showWarningMessage('DeepSeek: open an editor first.'); return; }
    await editor.edit(b => {
      for (const sel of editor.selections) {
        if (replaceSelection && !sel.isEmpty) { b.replace(sel, code); } else { b.insert(sel.active, code); }
      }
    });
  }

  get visible(): boolean { return !!this.view?.visible; }

  dispose(): void { for (const d of this.disposables) { d.dispose(); } this.renderedEmitter.dispose(); }
}
