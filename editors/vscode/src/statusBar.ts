// The status bar item: running jobs (click cancels), the session's tokens, cache-hit share and cost; balance on hover.
import * as vscode from 'vscode';
import { statusSummary, sessionCost, formatTokens, formatPercent, cacheHitShare } from './model/format';
import { fetchBalance, Secrets } from './secrets';
import type { ServerManager } from './client';
import type { Usage } from './model/stream';

interface Status { model?: string; baseUrl?: string; apiKeySet?: boolean; usage?: Usage; jobs?: unknown[] }

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('deepseek.status', vscode.StatusBarAlignment.Right, 100);
  status: Status | undefined;
  balance: string | undefined;
  private balanceAt = 0;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(private readonly server: ServerManager, private readonly secrets: Secrets) {
    this.item.name = 'DeepSeek';
    this.render();
    this.item.show();
  }

  /** jobs changed: redraw now, refresh the totals from the server when a job ended */
  jobsChanged(ended: boolean): void {
    this.render();
    if (ended) { this.scheduleRefresh(); }
  }

  scheduleRefresh(delay = 200): void {
    if (this.refreshTimer) { clearTimeout(this.refreshTimer); }
    this.refreshTimer = setTimeout(() => { this.refreshTimer = undefined; void this.refresh(); }, delay);
  }

  async refresh(): Promise<void> {
    if (this.server.running) {
      try { this.status = await this.server.request<Status>('deepseek.status', {}); } catch { /* keep the last one */ }
    }
    if (Date.now() - this.balanceAt > 60_000) {
      const key = await this.secrets.get();
      const baseUrl = this.status?.baseUrl ?? vscode.workspace.getConfiguration('deepseek').get<string>('baseUrl') ?? '';
      if (key && baseUrl) { this.balance = await fetchBalance(baseUrl, key); this.balanceAt = Date.now(); }
    }
    this.render();
  }

  render(): void {
    const running = this.server.jobs.running();
    const review = this.server.jobs.inReview();
    const summary = statusSummary(this.status?.usage);
    if (!this.server.running && this.server.lastError) {
      this.item.text = '$(error) DeepSeek';
      this.item.command = 'deepseek.installServer';
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (running.length) {
      this.item.text = `$(sync~spin) DeepSeek: ${running.length} job${running.length > 1 ? 's' : ''}`;
      this.item.command = { command: 'deepseek.cancelJob', title: 'Cancel' };
      this.item.backgroundColor = undefined;
    } else {
      this.item.text = `$(sparkle) DeepSeek${review.length ? ' $(eye) review' : ''}${summary ? ' · ' + summary : ''}`;
      this.item.command = 'deepseek.statusMenu';
      this.item.backgroundColor = this.status && this.status.apiKeySet === false ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    }
    const u = this.status?.usage;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**DeepSeek** ${this.server.running ? '' : '(server not running)'}\n\n`);
    if (this.server.lastError && !this.server.running) { md.appendMarkdown(`${this.server.lastError}\n\n`); }
    if (this.status) {
      md.appendMarkdown(`Model: \`${this.status.model ?? 'auto'}\` · ${this.status.baseUrl ?? ''}\n\n`);
      if (this.status.apiKeySet === false) { md.appendMarkdown('$(warning) No API key: run **DeepSeek: Set API key**\n\n'); }
    }
    if (running.length) { md.appendMarkdown(`Running: ${running.map(j => `${j.kind} ${j.jobId}`).join(', ')} — click to cancel\n\n`); }
    if (u) {
      md.appendMarkdown(`Session: ${formatTokens(u.promptTokens)} prompt + ${formatTokens(u.completionTokens)} completion tokens · ` +
        `cache hits ${formatPercent(cacheHitShare(u))} · cost ${sessionCost(u)}\n\n`);
      if (u.estimatedRequests) {
        md.appendMarkdown(`${u.estimatedRequests} request${u.estimatedRequests === 1 ? '' : 's'} without usage from the server: their tokens are estimates\n\n`);
      }
    }
    md.appendMarkdown(`Balance: ${this.balance ?? 'unknown'}`);
    this.item.tooltip = md;
  }

  dispose(): void { this.item.dispose(); if (this.refreshTimer) { clearTimeout(this.refreshTimer); } }
}
