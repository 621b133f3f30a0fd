// Rewrites: decorate the streaming region (changed lines, a marker where the stream is), CodeLens
// "Accept | Reject" while a review is pending, and the `when` contexts for keybindings and menus.
import * as vscode from 'vscode';
import { JobStream } from './model/stream';
import { regionDecorations } from './model/decorations';
import { warningLensTitle } from './model/recover';
import type { ServerManager } from './client';

export class RewriteController implements vscode.Disposable, vscode.CodeLensProvider {
  private readonly changed = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    backgroundColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  private readonly region = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    borderWidth: '0 0 0 2px', borderStyle: 'solid',
    borderColor: new vscode.ThemeColor('editorInfo.foreground'),
  });
  private readonly marker = vscode.window.createTextEditorDecorationType({
    after: { contentText: ' ▍DeepSeek…', color: new vscode.ThemeColor('editorInfo.foreground'), fontStyle: 'italic' },
  });
  private readonly lensEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensEmitter.event;
  private disposables: vscode.Disposable[] = [];
  /** rewrite jobs we decorate, by jobId */
  private readonly active = new Map<string, JobStream>();
  /** decoration snapshots for tests: jobId -> what was last drawn */
  readonly drawn = new Map<string, { changedLines: number[]; marker: { line: number; character: number } | null }>();

  constructor(private readonly server: ServerManager) {
    this.disposables.push(
      vscode.languages.registerCodeLensProvider([{ scheme: 'file' }, { scheme: 'untitled' }], this),
      vscode.window.onDidChangeVisibleTextEditors(() => this.redrawAll()),
      vscode.workspace.onDidChangeTextDocument(e => {
        if ([...this.active.values()].some(j => j.uri === e.document.uri.toString())) { this.redrawAll(); }
      }),
    );
  }

  /** a rewrite job changed */
  update(job: JobStream): void {
    if (job.kind !== 'rewrite') { return; }
    if (job.done) { this.active.delete(job.jobId); } else { this.active.set(job.jobId, job); }
    this.redrawAll();
    this.lensEmitter.fire();
    void this.updateContexts();
  }

  async updateContexts(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'deepseek.reviewPending', this.server.jobs.inReview().length > 0);
    await vscode.commands.executeCommand('setContext', 'deepseek.jobsRunning', this.server.jobs.running().length > 0);
  }

  private redrawAll(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const uri = editor.document.uri.toString();
      const changed: vscode.Range[] = [], region: vscode.Range[] = [], markers: vscode.Range[] = [];
      for (const job of this.active.values()) {
        if (job.uri !== uri || !job.range) { continue; }
        const r = job.range;
        const range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
        const current = editor.document.getText(range);
        const original = this.server.meta.get(job.jobId)?.originalText ?? '';
        const d = regionDecorations(original, current, r.start, job.state === 'streaming');
        this.drawn.set(job.jobId, { changedLines: d.changedLines, marker: d.marker });
        for (const line of d.changedLines) { if (line < editor.document.lineCount) { changed.push(new vscode.Range(line, 0, line, 0)); } }
        region.push(new vscode.Range(d.firstLine, 0, Math.min(d.lastLine, editor.document.lineCount - 1), 0));
        if (d.marker && d.marker.line < editor.document.lineCount) {
          const p = new vscode.Position(d.marker.line, d.marker.character);
          markers.push(new vscode.Range(p, p));
        }
      }
      editor.setDecorations(this.changed, changed);
      editor.setDecorations(this.region, region);
      editor.setDecorations(this.marker, markers);
    }
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const lenses: vscode.CodeLens[] = [];
    for (const job of this.active.values()) {
      if (job.uri !== document.uri.toString() || !job.range) { continue; }
      const at = new vscode.Range(job.range.start.line, 0, job.range.start.line, 0);
      if (job.state === 'review') {
        if (job.warnings.length) {
          lenses.push(new vscode.CodeLens(at, { title: warningLensTitle(job.warnings), command: '', tooltip: job.warnings.join('\n') }));
        }
        lenses.push(new vscode.CodeLens(at, { title: '$(check) Accept', command: 'deepseek.acceptRewrite', arguments: [job.jobId], tooltip: 'Keep the rewrite (Ctrl+Alt+A)' }));
        lenses.push(new vscode.CodeLens(at, { title: '$(discard) Reject', command: 'deepseek.rejectRewrite', arguments: [job.jobId], tooltip: 'Put the original back (Ctrl+Alt+Z)' }));
      } else if (job.state === 'streaming') {
        lenses.push(new vscode.CodeLens(at, { title: '$(sync~spin) DeepSeek is rewriting…', command: '' }));
        lenses.push(new vscode.CodeLens(at, { title: 'Cancel', command: 'deepseek.cancelJob', arguments: [job.jobId] }));
      }
    }
    return lenses;
  }

  /** the review job to act on: the given id, else the one in the active editor, else the only one, else ask */
  async pickReview(jobId?: unknown): Promise<string | undefined> {
    if (typeof jobId === 'string') { return jobId; }
    const pending = this.server.jobs.inReview();
    if (!pending.length) { void vscode.window.showInformationMessage('DeepSeek: no rewrite is waiting for review.'); return undefined; }
    const editor = vscode.window.activeTextEditor;
    if (editor) {
      const here = pending.filter(j => j.uri === editor.document.uri.toString());
      const atCursor = here.find(j => j.range && j.range.start.line <= editor.selection.active.line && editor.selection.active.line <= j.range.end.line);
      if (atCursor) { return atCursor.jobId; }
      if (here.length === 1) { return here[0].jobId; }
    }
    if (pending.length === 1) { return pending[0].jobId; }
    const pick = await vscode.window.showQuickPick(pending.map(j => ({
      label: `${vscode.workspace.asRelativePath(vscode.Uri.parse(j.uri ?? ''))}:${(j.range?.start.line ?? 0) + 1}`, jobId: j.jobId,
    })), { title: 'Which rewrite?' });
    return pick?.jobId;
  }

  dispose(): void {
    for (const d of this.disposables) { d.dispose(); }
    this.changed.dispose(); this.region.dispose(); this.marker.dispose(); this.lensEmitter.dispose();
  }
}
