// Keeping the user's code: **DeepSeek: Recover interrupted rewrites** (the server's recovery journal,
// `deepseek.recover`), the original offered back when a rewrite could not restore it, and the
// warnings of a rewrite that waits for review because of them.
import * as vscode from 'vscode';
import type { ServerManager } from './client';
import type { JobStream } from './model/stream';
import {
  RecoverEntry, Report, lostOriginalReport, parseRecoverResult, pickItem, resultReport, summary,
  warningsReport, where,
} from './model/recover';

const OPEN = 'Open Original';
const COPY = 'Copy Original';

const relPath = (uri: string) => {
  try { return vscode.workspace.asRelativePath(vscode.Uri.parse(uri), false); } catch { return uri; }
};

export class RecoverController implements vscode.Disposable {
  /** what the user was told, newest last (for the end-to-end tests) */
  readonly shown: Report[] = [];
  /** jobs whose lost original / warnings were already reported */
  private readonly reported = new Set<string>();
  private readonly warned = new Set<string>();

  constructor(private readonly server: ServerManager) {}

  /**
   * The command: list the journal (dry run), let the user pick, recover those, report each result.
   * `arg` skips the QuickPick when scripted: `{ ids: [...] }`, an array of ids, or `'all'`.
   */
  async run(arg?: unknown): Promise<RecoverEntry[] | undefined> {
    if (this.server.running && !this.server.serverCommands.includes('deepseek.recover')) {
      void vscode.window.showWarningMessage('DeepSeek: this server cannot recover rewrites yet (no deepseek.recover); update deepseek-lsp.');
      return undefined;
    }
    const journal = parseRecoverResult(await this.server.request('deepseek.recover', { dryRun: true }));
    if (!journal.length) {
      void vscode.window.showInformationMessage('DeepSeek: no interrupted rewrites to recover.');
      return [];
    }
    const ids = await this.choose(journal, arg);
    if (!ids?.length) { return undefined; }
    const results = parseRecoverResult(await this.server.request('deepseek.recover', { ids }));
    this.server.log(`recover: ${summary(results) || 'nothing'}`);
    for (const e of results) { void this.tell(resultReport(e, relPath), e.original, e.uri); }
    return results;
  }

  private async choose(journal: RecoverEntry[], arg: unknown): Promise<string[] | undefined> {
    const given = Array.isArray(arg) ? arg : (arg as { ids?: unknown } | undefined)?.ids;
    if (Array.isArray(given)) { return given.filter((x): x is string => typeof x === 'string'); }
    if (arg === 'all') { return journal.map(e => e.id); }
    const now = new Date();
    const picks = await vscode.window.showQuickPick(journal.map(e => pickItem(e, relPath, now)), {
      title: 'DeepSeek: Recover interrupted rewrites',
      placeHolder: 'The original code of the checked rewrites is put back (Enter to recover, Esc to leave them)',
      canPickMany: true, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true,
    });
    return picks?.map(p => p.id);
  }

  /** A rewrite ended: offer its original when the document lost it; show its warnings in review. */
  update(job: JobStream): void {
    if (job.kind !== 'rewrite') { return; }
    if (job.state === 'review' && job.warnings.length && !this.warned.has(job.jobId)) {
      this.warned.add(job.jobId);
      void this.warn(job);
    }
    if (!job.done || this.reported.has(job.jobId) || typeof job.original !== 'string') { return; }
    const report = lostOriginalReport(job, this.rangeText(job), relPath);
    if (!report) { return; }
    this.reported.add(job.jobId);
    this.server.said.cover(job.error?.message); // synchronously: the server's showMessage follows at once
    void this.tell(report, job.original, job.uri);
  }

  /**
   * `deepseek.reject` answered `rejected: false` with the original (a finished rewrite whose original
   * could not be verified back): offer it, unless the job's final notification already did.
   */
  afterReject(jobId: string, result: unknown): void {
    const r = result as { rejected?: unknown; original?: unknown; message?: unknown } | undefined;
    if (!r || r.rejected !== false || typeof r.original !== 'string' || this.reported.has(jobId)) { return; }
    this.reported.add(jobId);
    const job = this.server.jobs.get(jobId);
    const at = job?.uri ? where(job.uri, job.range, relPath) : 'the document';
    // the server's own error (with the reason) came before this answer: only the way back is new here
    void this.tell({ severity: 'error', offerOriginal: true,
      text: `DeepSeek: the original code of ${at} is not back; Open Original / Copy Original to put it back by hand.` }, r.original, job?.uri);
  }

  private rangeText(job: JobStream): string | undefined {
    const doc = job.uri ? vscode.workspace.textDocuments.find(d => d.uri.toString() === job.uri) : undefined;
    if (!doc || !job.range) { return undefined; }
    const r = job.range;
    return doc.getText(new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character));
  }

  private async warn(job: JobStream): Promise<void> {
    const text = warningsReport(job.warnings, job.uri ? where(job.uri, job.range, relPath) : 'the document');
    this.shown.push({ severity: 'warning', text, offerOriginal: false });
    const pick = await vscode.window.showWarningMessage(text, 'Reject', 'Accept');
    if (pick === 'Reject') { await vscode.commands.executeCommand('deepseek.rejectRewrite', job.jobId); }
    else if (pick === 'Accept') { await vscode.commands.executeCommand('deepseek.acceptRewrite', job.jobId); }
  }

  /** Show a report; with an original to offer, "Open Original" / "Copy Original" act on it. */
  async tell(report: Report, original: string, uri: string | undefined): Promise<void> {
    this.shown.push(report);
    const show = report.severity === 'error' ? vscode.window.showErrorMessage
      : report.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    if (!report.offerOriginal) { await show(report.text); return; }
    const pick = await show(report.text, OPEN, COPY);
    if (pick === OPEN) { await this.openOriginal(original, uri); }
    else if (pick === COPY) { await this.copyOriginal(original); }
  }

  /** The original in an untitled editor, in the source file's language, beside the current one. */
  async openOriginal(original: string, uri: string | undefined): Promise<vscode.TextDocument> {
    const doc = await vscode.workspace.openTextDocument({ content: original, language: await this.languageOf(uri) });
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
    return doc;
  }

  async copyOriginal(original: string): Promise<void> {
    await vscode.env.clipboard.writeText(original);
    void vscode.window.showInformationMessage('DeepSeek: the original code is on the clipboard.');
  }

  private async languageOf(uri: string | undefined): Promise<string | undefined> {
    if (!uri) { return undefined; }
    const open = vscode.workspace.textDocuments.find(d => d.uri.toString() === uri);
    if (open) { return open.languageId; }
    try { return (await vscode.workspace.openTextDocument(vscode.Uri.parse(uri))).languageId; } catch { return undefined; }
  }

  dispose(): void { /* nothing held */ }
}
