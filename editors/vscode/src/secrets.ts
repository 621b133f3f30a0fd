// The API key lives in VS Code's SecretStorage only; it is checked with GET /models before it is saved.
import * as vscode from 'vscode';

const KEY = 'deepseek.apiKey';

export type KeyCheck = { ok: true; models: string[] } | { ok: false; reason: 'rejected' | 'unreachable' | 'error'; detail: string };

/** GET {baseUrl}/models with the key. Never puts the key in the returned detail. */
export async function checkKey(baseUrl: string, key: string, timeoutMs = 10000): Promise<KeyCheck> {
  const url = baseUrl.replace(/\/+$/, '') + '/models';
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' }, signal: ctrl.signal });
    if (res.status === 401 || res.status === 403) {
      return { ok: false, reason: 'rejected', detail: `${url} answered ${res.status}: the key was not accepted` };
    }
    if (!res.ok) { return { ok: false, reason: 'error', detail: `${url} answered HTTP ${res.status}` }; }
    const body = await res.json().catch(() => ({})) as { data?: { id?: string }[] };
    return { ok: true, models: (body.data ?? []).map(m => String(m.id ?? '')).filter(Boolean) };
  } catch (e) {
    const msg = e instanceof Error ? (e.name === 'AbortError' ? 'timed out' : e.message) : String(e);
    return { ok: false, reason: 'unreachable', detail: `${url} could not be reached (${msg})` };
  } finally {
    clearTimeout(timer);
  }
}

/** GET {baseUrl}/user/balance: "CNY 110.00" or undefined */
export async function fetchBalance(baseUrl: string, key: string): Promise<string | undefined> {
  try {
    const res = await fetch(baseUrl.replace(/\/+$/, '') + '/user/balance',
      { headers: { Authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(8000) });
    if (!res.ok) { return undefined; }
    const body = await res.json() as { is_available?: boolean; balance_infos?: { currency: string; total_balance: string }[] };
    const infos = body.balance_infos ?? [];
    if (!infos.length) { return undefined; }
    return infos.map(b => `${b.currency} ${b.total_balance}`).join(', ') + (body.is_available === false ? ' (not available)' : '');
  } catch {
    return undefined;
  }
}

export class Secrets {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;

  constructor(private readonly storage: vscode.SecretStorage) {
    storage.onDidChange(e => { if (e.key === KEY) { this.emitter.fire(); } });
  }

  get(): Thenable<string | undefined> { return this.storage.get(KEY); }
  async store(key: string): Promise<void> { await this.storage.store(KEY, key); }
  async clear(): Promise<void> { await this.storage.delete(KEY); }
}

/**
 * "DeepSeek: Set API key". `given` (for scripts and tests) skips the input box.
 * Returns true when a key was saved.
 */
export async function setApiKeyCommand(secrets: Secrets, log: (m: string) => void, given?: string): Promise<boolean> {
  const baseUrl = vscode.workspace.getConfiguration('deepseek').get<string>('baseUrl') || 'https://api.deepseek.com';
  let key = typeof given === 'string' ? given.trim() : undefined;
  if (key === undefined) {
    key = (await vscode.window.showInputBox({
      title: 'DeepSeek API Key', prompt: `Your DeepSeek API key (platform.deepseek.com). It is checked against ${baseUrl} and kept in VS Code's secret storage.`,
      password: true, ignoreFocusOut: true, placeHolder: 'sk-…',
      validateInput: v => (v.trim() ? undefined : 'Enter a key'),
    }))?.trim();
  }
  if (!key) { return false; }
  const check = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'DeepSeek: checking the API key…' },
    () => checkKey(baseUrl, key!));
  if (!check.ok) {
    log(`API key check failed: ${check.detail}`);
    if (check.reason === 'rejected') {
      void vscode.window.showErrorMessage(`DeepSeek: the API key was rejected by ${baseUrl}. It was not saved.`);
      return false;
    }
    const choice = typeof given === 'string' ? 'Save Anyway' : await vscode.window.showWarningMessage(
      `DeepSeek: could not check the key: ${check.detail}. Save it anyway?`, 'Save Anyway', 'Cancel');
    if (choice !== 'Save Anyway') { return false; }
  }
  await secrets.store(key);
  log(`API key saved in secret storage${check.ok ? ` (checked: ${check.models.length} models listed)` : ' (unchecked)'}`);
  void vscode.window.showInformationMessage('DeepSeek: API key saved.');
  return true;
}
