// The server connection: finds and starts `deepseek-lsp`, restarts it, routes `deepseek/stream` into the JobStore.
import * as vscode from 'vscode';
import * as fs from 'fs';
import {
  LanguageClient, LanguageClientOptions, ServerOptions, State, RevealOutputChannelOn,
  ExecuteCommandRequest, ShowMessageNotification, ShowMessageParams, MessageType, WorkDoneProgress,
  StaticFeature, ClientCapabilities, FeatureState, Middleware,
} from 'vscode-languageclient/node';
import { JobStore, JobStream, StreamNotification, LspRange } from './model/stream';
import { resolveServer, ResolvedServer } from './model/serverCommand';
import { coalescedSpan } from './model/coalesce';
import { MessageDedupe } from './model/recover';
import { jobIdOfProgressToken, progressShouldEnd } from './model/progress';
import { isDryRun, worthEstimating, needsConfirm, confirmMessage } from './model/confirm';
import { Secrets } from './secrets';

export interface JobMeta {
  command: string;
  args: Record<string, unknown>;
  /** for rewrites: the document text of the range when the command was sent */
  originalText?: string;
  uri?: string;
  range?: LspRange;
}

const isExecutable = (f: string) => {
  try { fs.accessSync(f, fs.constants.X_OK); return fs.statSync(f).isFile(); } catch { return false; }
};

/** the `deepseek` section as the server reads it: without client-only keys and without any API key */
export function serverSettings(): Record<string, unknown> {
  const all = JSON.parse(JSON.stringify(vscode.workspace.getConfiguration('deepseek'))) as Record<string, unknown>;
  delete all.server; delete all.trace; delete all.apiKey;
  return withoutNulls(all);
}

/** unset settings (null) left out, also inside groups such as `completion` */
function withoutNulls(o: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    if (v === null) { delete o[k]; } else if (typeof v === 'object' && !Array.isArray(v)) { withoutNulls(v as Record<string, unknown>); }
  }
  return o;
}

/** Announces in `initialize` that this client renders `deepseek/stream` (explain panel, rewrite
 * decorations, chat view): the server sends it only to clients that say so (docs/protocol.md, Initialization). */
export class DeepSeekStreamFeature implements StaticFeature {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
    capabilities.experimental = { ...experimental, deepseek: { stream: true } };
  }
  initialize(): void { /* nothing to set up: the stream handler is registered with the client */ }
  getState(): FeatureState { return { kind: 'static' }; }
  clear(): void { /* nothing to clear */ }
}

/** What a rewrite needs done before its first edit lands (keeping auto-save off its document), and undone after. */
export interface RewriteHold {
  hold(uri: string): Promise<void>;
  release(uri: string): void;
}

/** A job's work-done progress as the client shows it (tests read it). */
export interface JobProgress { title?: string; message?: string; begun: boolean; ended: boolean; endedBy?: 'server' | 'client' }

export class ServerManager implements vscode.Disposable {
  client: LanguageClient | undefined;
  readonly jobs = new JobStore();
  readonly meta = new Map<string, JobMeta>();
  /** failures the client already reported with actions (a lost original): the server's showMessage about them is not repeated */
  readonly said = new MessageDedupe();
  private starting: Promise<void> | undefined;
  private readonly emitter = new vscode.EventEmitter<'started' | 'stopped'>();
  readonly onDidChangeState = this.emitter.event;
  private readonly forgetEmitter = new vscode.EventEmitter<void>();
  /** the job store was cleared (the server went away): job ids seen so far mean nothing any more */
  readonly onDidForgetJobs = this.forgetEmitter.event;
  private disposables: vscode.Disposable[] = [];
  lastError: string | undefined;
  resolved: ResolvedServer | undefined;
  /** set by the extension: rewrites keep unaccepted text off the disk */
  rewriteHold: RewriteHold | undefined;
  /** set by the extension: inline completion requests pass through it (none is sent while completion is off) */
  inlineCompletion: Middleware['provideInlineCompletionItems'];
  /** asks before a large request is sent (true: send); tests replace it */
  ask: (q: { message: string; detail: string }) => Thenable<boolean> = async q =>
    (await vscode.window.showWarningMessage(q.message, { modal: true, detail: q.detail }, 'Send')) === 'Send';
  /** the last question asked by `ask` (tests read it) */
  lastQuestion: { message: string; detail: string } | undefined;
  /** each job's progress, by jobId; `end` ends the status bar's spinner for it */
  readonly progress = new Map<string, JobProgress & { end?: () => void }>();

  constructor(private readonly ctx: vscode.ExtensionContext, readonly out: vscode.LogOutputChannel,
    private readonly secrets: Secrets) {
    // the server's progress for a rewrite goes on until Accept / Reject; the wait is not work
    this.jobs.onChange(job => { if (progressShouldEnd(job.state, job.done)) { this.endProgress(job.jobId); } });
  }

  log(msg: string): void { this.out.info(msg); }

  private trace: vscode.LogOutputChannel | undefined;
  /** LSP traffic (setting deepseek.trace.server) goes to its own plain channel, visible at any log level */
  private traceChannel(): vscode.LogOutputChannel {
    if (!this.trace) {
      const plain = vscode.window.createOutputChannel('DeepSeek LSP Trace');
      this.ctx.subscriptions.push(plain);
      const line = (m: string | Error) => plain.appendLine(`[${new Date().toISOString()}] ${m instanceof Error ? m.message : m}`);
      this.trace = ({
        logLevel: vscode.LogLevel.Trace, onDidChangeLogLevel: new vscode.EventEmitter<vscode.LogLevel>().event,
        trace: line, debug: line, info: line, warn: line, error: line,
        append: (v: string) => plain.append(v), appendLine: (v: string) => plain.appendLine(v),
        clear: () => plain.clear(), show: (...a: [boolean?]) => plain.show(...a), hide: () => plain.hide(),
        replace: (v: string) => plain.replace(v), dispose: () => plain.dispose(), name: plain.name,
      } satisfies Omit<vscode.LogOutputChannel, 'show'> & { show: unknown }) as unknown as vscode.LogOutputChannel;
    }
    return this.trace;
  }

  get running(): boolean { return this.client?.state === State.Running; }

  /** the server's own commands (executeCommandProvider), once it is running */
  get serverCommands(): string[] {
    return this.client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  }

  /** start, stop and restart run one after the other: two live clients would register the same commands twice */
  private queue: Promise<void> = Promise.resolve();
  private enqueue(f: () => Promise<void>): Promise<void> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** start the server unless it runs (or is starting) */
  async start(): Promise<void> {
    if (this.starting) { return this.starting; }
    this.starting = this.enqueue(async () => {
      if (this.client && this.client.state !== State.Stopped) { return; }
      if (this.client) { await this.doStop(); } // it died and could not restart itself
      await this.doStart();
    }).finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const cfg = vscode.workspace.getConfiguration('deepseek');
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const resolved = resolveServer({
      path: cfg.get<string>('server.path'), args: cfg.get<string[]>('server.args'),
      pythonPath: cfg.get<string>('server.pythonPath'),
    }, process.env, isExecutable, folder);
    if ('error' in resolved) {
      this.lastError = resolved.error;
      this.log(resolved.error);
      void this.showMissing(resolved.error);
      this.emitter.fire('stopped');
      return;
    }
    this.resolved = resolved;
    const env: NodeJS.ProcessEnv = { ...process.env };
    const key = await this.secrets.get();
    if (key) { env.DEEPSEEK_API_KEY = key; } // the key travels in the environment: never in a message or a log
    const serverOptions: ServerOptions = {
      command: resolved.command, args: resolved.args, options: { env, cwd: folder }, // stdio; no transport: it would add --stdio
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.out,
      traceOutputChannel: this.traceChannel(),
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      // the `deepseek` settings from the start (the server also pulls them later); never the key
      initializationOptions: serverSettings(),
      middleware: {
        didChange: (event, next) => next(this.coalesce(event)),
        provideInlineCompletionItems: (document, position, context, token, next) => this.inlineCompletion
          ? this.inlineCompletion(document, position, context, token, next) : next(document, position, context, token),
        executeCommand: async (command, args, next) => {
          // code actions from the light bulb run server commands directly: keep their jobs' metadata too
          if (/^deepseek\.(explain|rewrite|chat)$/.test(command) && args.length === 1 && typeof args[0] === 'object') {
            const meta = this.metaFor(command, args[0] as Record<string, unknown>);
            const held = await this.holdFor(command, meta.uri);
            try {
              const first = await this.estimateFirst(command, args[0] as Record<string, unknown>, meta);
              if (first === 'declined') { return undefined; }
              if (first !== 'send') { this.adopt(first, meta); return first; }
              const result = await next(command, args);
              this.adopt(result, meta);
              return result;
            } finally { if (held) { this.rewriteHold?.release(held); } }
          }
          return next(command, args);
        },
      },
    };
    const client = new LanguageClient('deepseek', 'DeepSeek', serverOptions, clientOptions);
    client.registerFeature(new DeepSeekStreamFeature());
    this.client = client;
    this.watchProgress(client);
    this.disposables.push(client.onNotification('deepseek/stream', (n: StreamNotification) => { this.jobs.push(n); }));
    // window/showMessage as the client library shows it, except a failure we already reported with
    // "Open Original" / "Copy Original" (handlers registered before start replace the library's)
    this.disposables.push(client.onNotification(ShowMessageNotification.type, (m: ShowMessageParams) => this.showMessage(m)));
    // a server that dies takes its jobs with it: end them here so no view waits forever
    // (also when the client library restarts it after a crash: the new server numbers its jobs afresh)
    this.disposables.push(client.onDidChangeState(e => { if (e.newState === State.Stopped) { this.endRunning(); } }));
    this.log(`starting ${resolved.command} ${resolved.args.join(' ')} (found via ${resolved.source}; API key ${key ? 'from SecretStorage' : 'not set here'})`);
    try {
      await client.start();
      this.lastError = undefined;
      this.log(`server running: ${client.initializeResult?.serverInfo?.name ?? ''} ${client.initializeResult?.serverInfo?.version ?? ''}`);
      this.emitter.fire('started');
    } catch (e) {
      this.lastError = `The DeepSeek server failed to start: ${e instanceof Error ? e.message : String(e)}`;
      this.log(this.lastError);
      void this.showMissing(this.lastError);
      this.client = undefined;
      try { await client.dispose(); } catch { /* already gone */ }
      this.emitter.fire('stopped');
    }
  }

  stop(): Promise<void> { return this.enqueue(() => this.doStop()); }

  private async doStop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    for (const d of this.disposables.splice(0)) { d.dispose(); }
    this.endRunning();
    if (c) {
      try { await c.stop(5000); } catch (e) { this.log(`stop: ${e instanceof Error ? e.message : e}`); }
    }
    this.emitter.fire('stopped');
  }

  /** End the jobs of a server that went away, then forget them all: a new server's job ids start
   * over, and a notification must never land in an old job of the same id. */
  private endRunning(): void {
    this.endUnfinished();
    for (const id of this.progress.keys()) { this.endProgress(id); }
    this.progress.clear();
    this.jobs.clear();
    this.meta.clear();
    this.forgetEmitter.fire();
  }

  private endUnfinished(): void {
    for (const job of this.jobs.all().filter(j => !j.done)) {
      if (job.kind === 'rewrite') {
        // not "cancelled": nobody checked that the original is back (the server's journal has it)
        this.jobs.end(job.jobId, 'failed', { code: 'server_stopped', message:
          'The DeepSeek server stopped during the rewrite. If the original code is not back, run "DeepSeek: Recover interrupted rewrites".' });
      } else {
        this.jobs.end(job.jobId, 'cancelled', { code: 'cancelled', message: 'The DeepSeek server stopped.' });
      }
    }
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      this.log('restarting the server');
      await this.doStop();
      await this.doStart();
    });
  }

  private restartTimer: NodeJS.Timeout | undefined;
  /** restart soon: several settings written at once (a settings.json save) cause one restart */
  restartSoon(delayMs = 300): void {
    if (this.restartTimer) { clearTimeout(this.restartTimer); }
    this.restartTimer = setTimeout(() => { this.restartTimer = undefined; void this.restart(); }, delayMs);
  }

  /** one equivalent change instead of several while a rewrite runs in the document (see model/coalesce.ts) */
  private coalesce(event: vscode.TextDocumentChangeEvent): vscode.TextDocumentChangeEvent {
    if (event.contentChanges.length < 2) { return event; }
    const uri = event.document.uri.toString();
    if (!this.jobs.all().some(j => j.kind === 'rewrite' && !j.done && j.uri === uri)) { return event; }
    const first = event.contentChanges.reduce((a, b) => (b.rangeOffset < a.rangeOffset ? b : a));
    const last = event.contentChanges.reduce((a, b) => (b.rangeOffset + b.rangeLength > a.rangeOffset + a.rangeLength ? b : a));
    const span = coalescedSpan(event.contentChanges);
    const doc = event.document;
    const text = doc.getText().slice(span.start, span.start + span.newLength);
    const range = new vscode.Range(first.range.start, last.range.end);
    return { ...event, document: doc, reason: event.reason, contentChanges: [{ range, rangeOffset: span.start, rangeLength: span.end - span.start, text }] };
  }

  private showMessage(m: ShowMessageParams): void {
    if (typeof m?.message !== 'string') { return; }
    if ((m.type === MessageType.Error || m.type === MessageType.Warning) && this.said.take(m.message)) {
      this.out.info(`(already shown) ${m.message}`);
      return;
    }
    if (m.type === MessageType.Error) { void vscode.window.showErrorMessage(m.message); }
    else if (m.type === MessageType.Warning) { void vscode.window.showWarningMessage(m.message); }
    else { void vscode.window.showInformationMessage(m.message); }
  }

  private async showMissing(message: string): Promise<void> {
    const pick = await vscode.window.showErrorMessage(`DeepSeek: ${message}`, 'How to install', 'Open settings', 'Show output');
    if (pick === 'How to install') { await vscode.commands.executeCommand('deepseek.installServer'); }
    else if (pick === 'Open settings') { await vscode.commands.executeCommand('workbench.action.openSettings', 'deepseek.server'); }
    else if (pick === 'Show output') { this.out.show(true); }
  }

  private metaFor(command: string, args: Record<string, unknown>): JobMeta {
    const meta: JobMeta = { command, args, uri: args.uri as string | undefined, range: args.range as LspRange | undefined };
    if (command === 'deepseek.rewrite' && meta.uri && meta.range) {
      const doc = vscode.workspace.textDocuments.find(d => d.uri.toString() === meta.uri);
      if (doc) {
        const r = meta.range;
        meta.originalText = doc.getText(new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character));
      }
    }
    return meta;
  }

  private adopt(result: unknown, meta: JobMeta): JobStream | undefined {
    const jobId = (result as { jobId?: string } | undefined)?.jobId;
    if (typeof jobId !== 'string') { return undefined; }
    this.meta.set(jobId, meta);
    const kind = meta.command.replace(/^deepseek\./, '');
    return this.jobs.register(jobId, kind);
  }

  /** Run a server command that starts a job; returns the job and the raw result. */
  async startJob(command: 'deepseek.explain' | 'deepseek.rewrite' | 'deepseek.chat', args: Record<string, unknown>):
    Promise<{ job: JobStream; result: Record<string, unknown> } | undefined> {
    const meta = this.metaFor(command, args);
    const held = await this.holdFor(command, meta.uri);
    try {
      const first = await this.estimateFirst(command, args, meta);
      if (first === 'declined') { return undefined; }
      const result = first !== 'send' ? first : await this.request(command, args) as Record<string, unknown>;
      const job = this.adopt(result, meta);
      if (!job) { throw new Error(`${command} returned no jobId`); }
      return { job, result };
    } finally { if (held) { this.rewriteHold?.release(held); } }
  }

  /** A large request: ask the server for its estimate (`dryRun: true`) and the user whether to send it.
   * 'send': go ahead; 'declined': the user said no; an object: a server without dryRun ran the request. */
  private async estimateFirst(command: string, args: Record<string, unknown>, meta: JobMeta): Promise<'send' | 'declined' | Record<string, unknown>> {
    const threshold = vscode.workspace.getConfiguration('deepseek').get<number>('confirmAboveTokens') ?? 8000;
    if (!worthEstimating(this.sizeOf(args, meta), threshold)) { return 'send'; }
    const est = await this.request(command, { ...args, dryRun: true }) as Record<string, unknown>;
    if (!isDryRun(est)) { return est; }
    if (!needsConfirm(est, threshold)) { return 'send'; }
    const what = { 'deepseek.explain': 'Explain', 'deepseek.rewrite': 'this rewrite', 'deepseek.chat': 'this chat message' }[command] ?? 'this request';
    this.lastQuestion = confirmMessage(est, what);
    return (await this.ask(this.lastQuestion)) ? 'send' : 'declined';
  }

  /** characters a request sends besides the context: the selection (the whole document for #file / #buffer), the message */
  private sizeOf(args: Record<string, unknown>, meta: JobMeta): number {
    const message = typeof args.message === 'string' ? args.message : '';
    if (/(^|\s)#(file|buffer)\b/.test(message)) { return Number.MAX_SAFE_INTEGER; }
    const doc = meta.uri ? vscode.workspace.textDocuments.find(d => d.uri.toString() === meta.uri) : undefined;
    let chars = message.length;
    if (doc && meta.range) {
      const r = meta.range;
      chars += meta.originalText?.length ?? doc.offsetAt(new vscode.Position(r.end.line, r.end.character)) - doc.offsetAt(new vscode.Position(r.start.line, r.start.character));
    }
    return chars;
  }

  /** before a rewrite is sent: hold its document (the hold then follows the job); returns the uri held */
  private async holdFor(command: string, uri: string | undefined): Promise<string | undefined> {
    if (command !== 'deepseek.rewrite' || !uri || !this.rewriteHold) { return undefined; }
    try { await this.rewriteHold.hold(uri); } catch (e) { this.log(`could not hold ${uri}: ${e instanceof Error ? e.message : e}`); }
    return uri;
  }

  /** Follow the progress parts the client library creates for our tokens, so a job's can be ended here. */
  private watchProgress(client: LanguageClient): void {
    const onProgress = client.onProgress.bind(client);
    client.onProgress = ((type, token, handler) => {
      const jobId = type === WorkDoneProgress.type ? jobIdOfProgressToken(token) : undefined;
      if (!jobId) { return onProgress(type, token, handler); }
      const entry: JobProgress & { end?: () => void } = { begun: false, ended: false };
      this.progress.set(jobId, entry);
      const seen = (v: { kind: string; title?: string; message?: string }) => {
        if (entry.ended) { return; }
        if (v.kind === 'begin') { entry.begun = true; entry.title = v.title; }
        if (v.message) { entry.message = v.message; }
        if (v.kind === 'end') { entry.ended = true; entry.endedBy ??= 'server'; }
        (handler as (v: unknown) => void)(v);
      };
      entry.end = () => { entry.endedBy = 'client'; seen({ kind: 'end' }); };
      const job = this.jobs.get(jobId);
      if (job && progressShouldEnd(job.state, job.done)) { entry.end(); }
      return onProgress(type, token, seen as typeof handler);
    }) as typeof client.onProgress;
  }

  /** end a job's progress now (review or done): no spinner while nothing is being written */
  endProgress(jobId: string): void {
    const p = this.progress.get(jobId);
    if (p && !p.ended) { p.end?.(); }
    if (this.progress.size > 100) {
      for (const [id, e] of this.progress) { if (e.ended && this.progress.size > 50) { this.progress.delete(id); } }
    }
  }

  /** workspace/executeCommand on the server (starting it first when needed) */
  async request<T = unknown>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    if (!this.running) { await this.start(); }
    const c = this.client;
    if (!c || !this.running) { throw new Error(this.lastError ?? 'the DeepSeek server is not running'); }
    return c.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] }) as Promise<T>;
  }

  dispose(): void {
    void this.stop();
    if (this.restartTimer) { clearTimeout(this.restartTimer); }
    this.emitter.dispose();
    this.forgetEmitter.dispose();
  }
}
