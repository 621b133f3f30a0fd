// Unaccepted text stays off the disk. A rewrite streams into the document and waits there for
// Accept | Reject; with auto-save on (code-server's default, a common desktop setting) VS Code would
// write it to disk a second later. Extensions cannot veto a save (onWillSaveTextDocument only adds
// edits, and a slow participant is skipped), so while a rewrite is pending in a file, auto-save is
// off for that file's language: `files.autoSave` is language-overridable, and a language-specific
// value wins over any plain one. The override goes into the user settings before the rewrite's first
// edit and is taken back (the previous value restored) when no rewrite of that language is pending;
// VS Code then saves what is dirty. A window that died with an override in place restores it at the
// next start (kept in globalState).
import * as vscode from 'vscode';
import type { RewriteHold, ServerManager } from './client';

const STATE_KEY = 'deepseek.autoSaveHeld';

/** languageId -> the user's own language-specific `files.autoSave` before we set it (null: none) */
type Held = Record<string, string | null>;

export class AutoSaveGuard implements RewriteHold, vscode.Disposable {
  /** rewrites being sent (no job yet), by document uri */
  private readonly sending = new Map<string, number>();
  /** one sync at a time: settings writes must not interleave */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly server: ServerManager, private readonly state: vscode.Memento,
    private readonly log: (m: string) => void) {}

  private get held(): Held { return this.state.get<Held>(STATE_KEY, {}); }

  /** a rewrite of `uri` is about to be sent: auto-save off for its language first */
  async hold(uri: string): Promise<void> {
    this.sending.set(uri, (this.sending.get(uri) ?? 0) + 1);
    await this.sync();
  }

  /** the rewrite of `uri` was sent (its job now holds the document) or failed */
  release(uri: string): void {
    const n = (this.sending.get(uri) ?? 1) - 1;
    if (n > 0) { this.sending.set(uri, n); } else { this.sending.delete(uri); }
    void this.sync();
  }

  /** whether auto-save is off for this document because of a pending rewrite (tests read it) */
  holds(document: vscode.TextDocument): boolean { return document.languageId in this.held; }

  /** bring the overrides in line with the pending rewrites (also restores those a dead window left) */
  sync(): Promise<void> {
    const next = this.queue.then(() => this.doSync());
    this.queue = next.catch(e => this.log(`auto-save: ${e instanceof Error ? e.message : e}`));
    return this.queue;
  }

  private closing = false;

  private languagesPending(): Map<string, vscode.TextDocument> {
    if (this.closing) { return new Map(); }
    const uris = new Set<string>(this.sending.keys());
    for (const job of this.server.jobs.all()) {
      const uri = job.uri ?? this.server.meta.get(job.jobId)?.uri; // before its first notification, the job's uri is the request's
      if (job.kind === 'rewrite' && !job.done && uri) { uris.add(uri); }
    }
    const out = new Map<string, vscode.TextDocument>();
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme !== 'untitled' && uris.has(doc.uri.toString())) { out.set(doc.languageId, doc); }
    }
    return out;
  }

  private async doSync(): Promise<void> {
    const pending = this.languagesPending();
    const held = { ...this.held };
    for (const [languageId, doc] of pending) {
      if (languageId in held) { continue; }
      const mode = vscode.workspace.getConfiguration('files', { uri: doc.uri, languageId }).get<string>('autoSave');
      if (!mode || mode === 'off') { continue; }
      const files = vscode.workspace.getConfiguration('files', { languageId });
      const own = files.inspect<string>('autoSave')?.globalLanguageValue;
      held[languageId] = own ?? null;
      await this.state.update(STATE_KEY, held); // first: a crash from here on is undone at the next start
      await files.update('autoSave', 'off', vscode.ConfigurationTarget.Global, true);
      this.log(`auto-save is off for ${languageId} files while a rewrite waits (was ${mode})`);
    }
    for (const languageId of Object.keys(held)) {
      if (pending.has(languageId)) { continue; }
      const own = held[languageId];
      await vscode.workspace.getConfiguration('files', { languageId })
        .update('autoSave', own ?? undefined, vscode.ConfigurationTarget.Global, true);
      delete held[languageId];
      await this.state.update(STATE_KEY, held);
      this.log(`auto-save is back for ${languageId} files`);
    }
  }

  /** the window closes: no rewrite is pending any more */
  releaseAll(): Promise<void> {
    this.sending.clear();
    this.closing = true;
    return this.sync();
  }

  dispose(): void { this.sending.clear(); }
}
