// Inline completion (ghost text). vscode-languageclient registers VS Code's inline completion provider
// itself when the server announces `inlineCompletionProvider` (LSP 3.18 `textDocument/inlineCompletion`)
// and forwards VS Code's cancellation as `$/cancelRequest`; Tab, Accept Next Word and Accept Next Line
// are VS Code's own. This adds the `deepseek.completion.enabled` toggle in the status bar, and keeps
// requests from leaving VS Code while it is off.
import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';
import type { ServerManager } from './client';
import { completionStatusView, toggleTarget } from './model/completionToggle';

const TARGETS = {
  global: vscode.ConfigurationTarget.Global,
  workspace: vscode.ConfigurationTarget.Workspace,
  workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
};

export class InlineCompletion implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('deepseek.completion', vscode.StatusBarAlignment.Right, 99);
  /** `textDocument/inlineCompletion` requests sent to the server, those VS Code cancelled (the client
   * library sends `$/cancelRequest`), those answered here because completion is off; the last answer's
   * texts (tests read them) */
  sent = 0;
  cancelled = 0;
  skipped = 0;
  lastItems: { uri: string; texts: string[] } | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly server: ServerManager) {
    this.item.name = 'DeepSeek Inline Completion';
    this.item.command = 'deepseek.toggleCompletion';
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration(e => { if (e.affectsConfiguration('deepseek.completion.enabled')) { this.render(); } }),
      server.onDidChangeState(() => this.render()),
    );
    this.render();
    this.item.show();
  }

  get enabled(): boolean {
    return vscode.workspace.getConfiguration('deepseek.completion').get<boolean>('enabled', true) !== false;
  }

  /** whether the running server offers inline completion (undefined: no server running) */
  get supported(): boolean | undefined {
    if (!this.server.running) { return undefined; }
    return !!this.server.client?.initializeResult?.capabilities.inlineCompletionProvider;
  }

  /** flip `deepseek.completion.enabled` where it is set (the user settings when nowhere); returns the new value */
  async toggle(): Promise<boolean> {
    const cfg = vscode.workspace.getConfiguration('deepseek.completion');
    const on = !this.enabled;
    await cfg.update('enabled', on, TARGETS[toggleTarget(cfg.inspect('enabled'))]);
    this.render();
    return on;
  }

  render(): void {
    const view = completionStatusView(this.enabled, this.supported);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.accessibilityInformation = { label: view.label, role: 'button' };
  }

  /** the client's middleware: nothing leaves VS Code while completion is off (the server, told by the
   * setting too, would answer no item; this spares the round trip) */
  readonly middleware: NonNullable<Middleware['provideInlineCompletionItems']> = (document, position, context, token, next) => {
    if (!this.enabled) { this.skipped++; return null; }
    this.sent++;
    const sub = token.onCancellationRequested(() => { this.cancelled++; sub.dispose(); });
    return Promise.resolve(next(document, position, context, token)).then(result => {
      if (token.isCancellationRequested) { return result; }
      const items = Array.isArray(result) ? result : result?.items ?? [];
      this.lastItems = { uri: document.uri.toString(), texts: items.map(i => typeof i.insertText === 'string' ? i.insertText : i.insertText.value) };
      return result;
    }).finally(() => sub.dispose());
  };

  dispose(): void {
    this.item.dispose();
    for (const d of this.disposables.splice(0)) { d.dispose(); }
  }
}
