// deepseek-lsp for VS Code: starts the server, wires commands, views, the status bar and the API key.
import * as vscode from 'vscode';
import { ServerManager } from './client';
import { Secrets, setApiKeyCommand } from './secrets';
import { ExplainPanel } from './explainPanel';
import { RewriteController } from './rewrite';
import { ChatView } from './chatView';
import { StatusBar } from './statusBar';
import { RecoverController } from './recover';
import { AutoSaveGuard } from './autoSave';
import { InlineCompletion } from './completion';
import type { JobStream } from './model/stream';

const HISTORY_KEY = 'deepseek.refactor.history';

/** what activate() returns: used by the end-to-end tests, and by anyone scripting the extension */
export interface DeepSeekApi {
  server: ServerManager;
  explain: ExplainPanel;
  rewrite: RewriteController;
  chat: ChatView;
  status: StatusBar;
  recover: RecoverController;
  autoSave: AutoSaveGuard;
  completion: InlineCompletion;
}

let guard: AutoSaveGuard | undefined;

function lspRange(r: vscode.Range) {
  return { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}

export async function activate(ctx: vscode.ExtensionContext): Promise<DeepSeekApi> {
  const out = vscode.window.createOutputChannel('DeepSeek', { log: true });
  const secrets = new Secrets(ctx.secrets);
  const server = new ServerManager(ctx, out, secrets);
  const explain = new ExplainPanel(ctx.extensionUri, id => void cancel(id));
  const rewrite = new RewriteController(server);
  const chat = new ChatView(ctx.extensionUri, server, ctx.workspaceState);
  const status = new StatusBar(server, secrets);
  const recover = new RecoverController(server);
  const autoSave = guard = new AutoSaveGuard(server, ctx.globalState, m => out.info(m));
  server.rewriteHold = autoSave;
  const completion = new InlineCompletion(server);
  server.inlineCompletion = completion.middleware;
  void autoSave.sync(); // an override a closed window left behind goes back
  ctx.subscriptions.push(out, server, explain, rewrite, chat, status, recover, autoSave, completion,
    vscode.window.registerWebviewViewProvider(ChatView.viewId, chat, { webviewOptions: { retainContextWhenHidden: true } }));

  // every job change goes to the view that shows its kind
  ctx.subscriptions.push({ dispose: server.jobs.onChange((job: JobStream, created: boolean) => {
    if (job.kind === 'explain') {
      if (created) { explain.show(job); } else { explain.update(job); }
    } else if (job.kind === 'rewrite') {
      rewrite.update(job);
      recover.update(job);
      if (job.done || created) { void autoSave.sync(); }
    } else if (job.kind === 'chat') {
      chat.update(job);
    }
    if (job.kind !== 'rewrite') { void rewrite.updateContexts(); }
    status.jobsChanged(job.done || job.state === 'review');
    if (job.done) { server.jobs.prune(); }
  }) });
  let askedForKey = false;
  ctx.subscriptions.push(server.onDidChangeState(async state => {
    status.render();
    status.scheduleRefresh();
    if (state !== 'started' || askedForKey) { return; }
    // no key anywhere (secret storage, environment, settings): say how to set one, once
    const s = await server.request<{ apiKeySet?: boolean }>('deepseek.status', {}).catch(() => undefined);
    if (s && s.apiKeySet === false && !askedForKey) {
      askedForKey = true;
      const pick = await vscode.window.showInformationMessage('DeepSeek: no API key is set yet.', 'Set API key');
      if (pick) { await vscode.commands.executeCommand('deepseek.setApiKey'); }
    }
  }));

  async function cancel(jobId?: unknown): Promise<void> {
    let id = typeof jobId === 'string' ? jobId : undefined;
    if (!id) {
      const running = server.jobs.running();
      if (running.length === 0) { void vscode.window.showInformationMessage('DeepSeek: nothing is running.'); return; }
      if (running.length === 1) { id = running[0].jobId; } else {
        const pick = await vscode.window.showQuickPick(
          [{ label: 'Cancel all', jobId: '*' }, ...running.map(j => ({ label: `${j.kind} ${j.jobId}`, description: j.uri ? vscode.workspace.asRelativePath(vscode.Uri.parse(j.uri)) : '', jobId: j.jobId }))],
          { title: 'DeepSeek: cancel which job?' });
        if (!pick) { return; }
        id = pick.jobId;
      }
    }
    const ids = id === '*' ? server.jobs.running().map(j => j.jobId) : [id];
    for (const j of ids) { await server.request('deepseek.cancel', { jobId: j }); }
  }

  function target(): { editor: vscode.TextEditor; uri: string; range: ReturnType<typeof lspRange> } | undefined {
    const editor = vscode.window.activeTextEditor;
    if (!editor) { void vscode.window.showWarningMessage('DeepSeek: open a file and select some code first.'); return undefined; }
    let sel: vscode.Range = editor.selection;
    if (sel.isEmpty) { sel = editor.document.lineAt(sel.start.line).range; } // nothing selected: the current line
    return { editor, uri: editor.document.uri.toString(), range: lspRange(sel) };
  }

  async function run<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
    try { return await f(); } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      out.error(`${what}: ${msg}`);
      void vscode.window.showErrorMessage(`DeepSeek ${what}: ${msg}`);
      return undefined;
    }
  }

  async function rewriteWith(action: string, instruction?: string): Promise<JobStream | undefined> {
    const t = target();
    if (!t) { return undefined; }
    if (!server.serverCommands.includes('deepseek.rewrite') && server.running) {
      void vscode.window.showWarningMessage('DeepSeek: this server does not support rewrites yet (no deepseek.rewrite); update deepseek-lsp.');
      return undefined;
    }
    const args: Record<string, unknown> = { uri: t.uri, range: t.range, action };
    if (instruction) { args.instruction = instruction; }
    if (action === 'fix' && server.client) {
      const sel = new vscode.Range(t.range.start.line, t.range.start.character, t.range.end.line, t.range.end.character);
      const diags = vscode.languages.getDiagnostics(t.editor.document.uri).filter(d => d.range.intersection(sel));
      if (diags.length) { args.diagnostics = await server.client.code2ProtocolConverter.asDiagnostics(diags); }
    }
    return run('rewrite', async () => (await server.startJob('deepseek.rewrite', args))?.job);
  }

  async function askInstruction(): Promise<string | undefined> {
    const history = ctx.globalState.get<string[]>(HISTORY_KEY, []);
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem>();
    qp.title = 'DeepSeek: Refactor';
    qp.placeholder = 'How should the selection change? (Enter a new instruction or pick a recent one)';
    qp.items = history.map(h => ({ label: h }));
    qp.ignoreFocusOut = true;
    // typing shows what you type as the first item, above the history
    qp.onDidChangeValue(v => {
      qp.items = [...(v.trim() && !history.includes(v) ? [{ label: v, description: 'new instruction' }] : []), ...history.map(h => ({ label: h }))];
    });
    const chosen = await new Promise<string | undefined>(resolve => {
      qp.onDidAccept(() => { resolve(qp.selectedItems[0]?.label ?? qp.value); qp.hide(); });
      qp.onDidHide(() => resolve(undefined));
      qp.show();
    });
    qp.dispose();
    const text = chosen?.trim();
    if (text) { await ctx.globalState.update(HISTORY_KEY, [text, ...history.filter(h => h !== text)].slice(0, 30)); }
    return text;
  }

  const reg = (id: string, f: (...a: any[]) => unknown) => ctx.subscriptions.push(vscode.commands.registerCommand(id, f));

  reg('deepseek.explainSelection', async () => {
    const t = target();
    if (!t) { return undefined; }
    return run('explain', async () => (await server.startJob('deepseek.explain', { uri: t.uri, range: t.range }))?.job);
  });
  reg('deepseek.refactorSelection', async (instruction?: string) => {
    const text = typeof instruction === 'string' ? instruction : await askInstruction();
    if (!text) { return undefined; }
    return rewriteWith('refactor', text);
  });
  reg('deepseek.fixSelection', () => rewriteWith('fix'));
  reg('deepseek.docstringSelection', () => rewriteWith('docstring'));
  reg('deepseek.testsSelection', () => rewriteWith('tests'));
  reg('deepseek.acceptRewrite', async (jobId?: string) => {
    const id = await rewrite.pickReview(jobId);
    if (id) { return run('accept', () => server.request('deepseek.accept', { jobId: id })); }
    return undefined;
  });
  reg('deepseek.rejectRewrite', async (jobId?: string) => {
    const id = await rewrite.pickReview(jobId);
    if (id) {
      const result = await run('reject', () => server.request('deepseek.reject', { jobId: id }));
      recover.afterReject(id, result);
      return result;
    }
    return undefined;
  });
  reg('deepseek.recoverRewrites', (arg?: unknown) => run('recover', () => recover.run(arg)));
  reg('deepseek.cancelJob', (jobId?: string) => run('cancel', () => cancel(jobId)));
  reg('deepseek.openChat', async (message?: string) => {
    await chat.reveal();
    if (typeof message === 'string' && message.trim()) { return run('chat', () => chat.send(message)); }
    return undefined;
  });
  reg('deepseek.chatAboutSelection', async (message?: string) => {
    const editor = vscode.window.activeTextEditor;
    const text = typeof message === 'string' ? message : await vscode.window.showInputBox({
      title: 'DeepSeek: Chat about the selection', prompt: 'Your question (the selection is attached)', ignoreFocusOut: true });
    if (!text) { return undefined; }
    await chat.reveal();
    return run('chat', () => chat.send(text, { attachSelection: true, editor }));
  });
  reg('deepseek.newChat', async () => { chat.newSession(); await chat.reveal(); });
  reg('deepseek.resumeChat', () => chat.pickSession());
  reg('deepseek.setApiKey', async (key?: string) => {
    const saved = await setApiKeyCommand(secrets, m => out.info(m), typeof key === 'string' ? key : undefined);
    if (saved) { await server.restart(); }
    return saved;
  });
  reg('deepseek.clearApiKey', async () => {
    await secrets.clear();
    out.info('API key removed from secret storage');
    void vscode.window.showInformationMessage('DeepSeek: API key cleared.' + (process.env.DEEPSEEK_API_KEY ? ' (DEEPSEEK_API_KEY from your environment still applies.)' : ''));
    await server.restart();
  });
  reg('deepseek.toggleCompletion', () => run('toggle inline completion', () => completion.toggle()));
  reg('deepseek.restartServer', () => server.restart());
  reg('deepseek.showOutput', () => out.show());
  reg('deepseek.installServer', async () => {
    const readme = vscode.Uri.joinPath(ctx.extensionUri, 'README.md');
    await vscode.commands.executeCommand('markdown.showPreview', readme).then(undefined,
      () => vscode.commands.executeCommand('vscode.open', readme));
  });
  reg('deepseek.statusMenu', async () => {
    const items = [
      { label: '$(comment-discussion) Open chat', cmd: 'deepseek.openChat' },
      { label: `$(${completion.enabled ? 'circle-slash' : 'check'}) Turn inline completion ${completion.enabled ? 'off' : 'on'}`, cmd: 'deepseek.toggleCompletion' },
      { label: '$(key) Set API key', cmd: 'deepseek.setApiKey' },
      { label: '$(trash) Clear API key', cmd: 'deepseek.clearApiKey' },
      { label: '$(debug-restart) Restart server', cmd: 'deepseek.restartServer' },
      { label: '$(history) Recover interrupted rewrites', cmd: 'deepseek.recoverRewrites' },
      { label: '$(output) Show output', cmd: 'deepseek.showOutput' },
      { label: '$(gear) Settings', cmd: 'workbench.action.openSettings', arg: 'deepseek' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'DeepSeek' });
    if (pick) { await vscode.commands.executeCommand(pick.cmd, ...(pick.arg ? [pick.arg] : [])); }
  });

  // restart when the way the server is started changes; the rest reaches the running server as
  // workspace/didChangeConfiguration (it pulls the `deepseek` section)
  ctx.subscriptions.push(vscode.workspace.onDidChangeConfiguration(e => {
    if (e.affectsConfiguration('deepseek.server')) { out.info('deepseek.server settings changed'); server.restartSoon(); }
    else if (e.affectsConfiguration('deepseek')) { status.scheduleRefresh(500); }
  }));
  ctx.subscriptions.push(secrets.onDidChange(() => status.scheduleRefresh()));

  void vscode.commands.executeCommand('setContext', 'deepseek.reviewPending', false);
  void vscode.commands.executeCommand('setContext', 'deepseek.jobsRunning', false);
  await server.start();
  ctx.subscriptions.push(server.onDidForgetJobs(() => void autoSave.sync()));
  return { server, explain, rewrite, chat, status, recover, autoSave, completion };
}

export function deactivate(): Thenable<void> | undefined {
  // the ServerManager (in ctx.subscriptions) stops the server; auto-save comes back now, not at the next start
  const g = guard;
  guard = undefined;
  return g?.releaseAll();
}
