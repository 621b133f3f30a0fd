// Assembles `deepseek/stream` notifications (docs/protocol.md) into the state of each job.
// Pure: no `vscode` import, so it is unit-tested with node's test runner.

export type JobState = 'streaming' | 'review' | 'done' | 'cancelled' | 'failed';

export interface LspPosition { line: number; character: number }
export interface LspRange { start: LspPosition; end: LspPosition }

export interface Usage {
  promptTokens?: number; completionTokens?: number; promptCacheHitTokens?: number;
  promptCacheMissTokens?: number; reasoningTokens?: number; cost?: number | null;
  /** a request's counts were estimated here (the server reported no usage) */
  estimated?: boolean;
  /** the session's requests whose counts are estimates */
  estimatedRequests?: number;
  [key: string]: unknown;
}

export interface StreamNotification {
  jobId: string;
  kind?: string;
  seq: number;
  uri?: string;
  range?: LspRange;
  reasoning?: string;
  content?: string;
  state?: JobState;
  done?: boolean;
  finishReason?: string;
  usage?: Usage;
  error?: { code: string; message: string };
  sessionId?: string;
  sessionUsage?: Usage;
  notice?: string;
  attachments?: { label: string; title: string; uri?: string }[];
  context?: { tokens?: number; omitted?: string[]; maskedSecrets?: number; excluded?: boolean };
  /** a rewrite's final notification: the original text, when the document no longer holds it */
  original?: string;
  /** a rewrite that ended in review because of them (e.g. syntax errors the original did not have) */
  warnings?: string[];
  [key: string]: unknown;
}

/** One job as the client sees it: the joined text, where it stands, how long it thought. */
export class JobStream {
  content = '';
  reasoning = '';
  state: JobState = 'streaming';
  done = false;
  kind: string;
  uri?: string;
  range?: LspRange;
  finishReason?: string;
  usage?: Usage;
  sessionUsage?: Usage;
  error?: { code: string; message: string };
  sessionId?: string;
  notices: string[] = [];
  attachments: { label: string; title: string; uri?: string }[] = [];
  context?: StreamNotification['context'];
  /** a rewrite's original text, sent when the document no longer holds it (restore_failed and the like) */
  original?: string;
  /** why a rewrite waits for review even with review off (shown with Accept / Reject) */
  warnings: string[] = [];
  /** the next seq we expect; later ones wait in `pending` until the gap is filled */
  private nextSeq = 0;
  private pending = new Map<number, StreamNotification>();
  readonly startedAt: number;
  reasoningStartedAt?: number;
  reasoningEndedAt?: number;
  endedAt?: number;
  /** how many notifications were applied (for tests and throttled views) */
  applied = 0;

  constructor(readonly jobId: string, kind = 'unknown', now: number = Date.now()) {
    this.kind = kind;
    this.startedAt = now;
  }

  /** Feed one notification; returns true when the visible state changed. Duplicates are ignored. */
  push(n: StreamNotification, now: number = Date.now()): boolean {
    if (typeof n.seq !== 'number' || n.seq < this.nextSeq || this.pending.has(n.seq)) {
      return false;
    }
    this.pending.set(n.seq, n);
    let changed = false;
    while (this.pending.has(this.nextSeq)) {
      const next = this.pending.get(this.nextSeq)!;
      this.pending.delete(this.nextSeq);
      this.nextSeq++;
      this.apply(next, now);
      changed = true;
    }
    return changed;
  }

  /** notifications held back because an earlier seq is missing */
  get waiting(): number { return this.pending.size; }

  private apply(n: StreamNotification, now: number): void {
    this.applied++;
    if (n.kind) { this.kind = n.kind; }
    if (n.uri) { this.uri = n.uri; }
    if (n.range) { this.range = n.range; }
    if (n.reasoning) {
      if (this.reasoningStartedAt === undefined) { this.reasoningStartedAt = now; }
      this.reasoning += n.reasoning;
    }
    if (n.content) {
      if (this.reasoningStartedAt !== undefined && this.reasoningEndedAt === undefined) { this.reasoningEndedAt = now; }
      this.content += n.content;
    }
    if (n.state) { this.state = n.state; }
    if (n.sessionId) { this.sessionId = n.sessionId; }
    if (n.notice) { this.notices.push(n.notice); }
    if (n.attachments) { this.attachments = n.attachments; }
    if (n.context) { this.context = n.context; }
    if (n.usage) { this.usage = n.usage; }
    if (n.sessionUsage) { this.sessionUsage = n.sessionUsage; }
    if (n.finishReason) { this.finishReason = n.finishReason; }
    if (n.error) { this.error = n.error; }
    if (typeof n.original === 'string') { this.original = n.original; }
    if (Array.isArray(n.warnings)) { this.warnings = n.warnings.filter((w): w is string => typeof w === 'string'); }
    if (n.done) {
      this.done = true;
      this.endedAt = now;
      if (this.reasoningStartedAt !== undefined && this.reasoningEndedAt === undefined) { this.reasoningEndedAt = now; }
      if (!n.state && this.state === 'streaming') { this.state = this.error ? 'failed' : 'done'; }
    }
  }

  /** End the job from the client's side (its server went away); later notifications are ignored. */
  forceEnd(state: JobState, error?: { code: string; message: string }, now: number = Date.now()): void {
    if (this.done) { return; }
    this.pending.clear();
    this.nextSeq = Number.MAX_SAFE_INTEGER;
    this.state = state;
    if (error) { this.error = error; }
    this.done = true;
    this.endedAt = now;
    if (this.reasoningStartedAt !== undefined && this.reasoningEndedAt === undefined) { this.reasoningEndedAt = now; }
  }

  /** Seconds spent thinking (rounded, at least 1 once any reasoning came), or undefined. */
  thoughtSeconds(now: number = Date.now()): number | undefined {
    if (this.reasoningStartedAt === undefined) { return undefined; }
    const end = this.reasoningEndedAt ?? now;
    return Math.max(1, Math.round((end - this.reasoningStartedAt) / 1000));
  }

  /** still thinking: reasoning came, no content yet, not done */
  get thinking(): boolean { return this.reasoningStartedAt !== undefined && this.reasoningEndedAt === undefined && !this.done; }

  /** running = the server may still send text or edits */
  get running(): boolean { return !this.done && this.state !== 'review'; }
}

/** All jobs of one server connection. Notifications for a job not yet registered are kept. */
export class JobStore {
  private jobs = new Map<string, JobStream>();
  private listeners: ((job: JobStream, created: boolean) => void)[] = [];

  onChange(listener: (job: JobStream, created: boolean) => void): () => void {
    this.listeners.push(listener);
    return () => { this.listeners = this.listeners.filter(l => l !== listener); };
  }

  get(jobId: string): JobStream | undefined { return this.jobs.get(jobId); }

  all(): JobStream[] { return [...this.jobs.values()]; }

  running(): JobStream[] { return this.all().filter(j => j.running); }

  inReview(): JobStream[] { return this.all().filter(j => j.state === 'review' && !j.done); }

  /** the job a command just started (its response carried the jobId) */
  register(jobId: string, kind: string, now: number = Date.now()): JobStream {
    let job = this.jobs.get(jobId);
    const created = !job;
    if (!job) {
      job = new JobStream(jobId, kind, now);
      this.jobs.set(jobId, job);
    }
    if (created) { this.emit(job, true); }
    return job;
  }

  push(n: StreamNotification, now: number = Date.now()): JobStream | undefined {
    if (!n || typeof n.jobId !== 'string') { return undefined; }
    let job = this.jobs.get(n.jobId);
    let created = false;
    if (!job) {
      job = new JobStream(n.jobId, n.kind ?? 'unknown', now);
      this.jobs.set(n.jobId, job);
      created = true;
    }
    const changed = job.push(n, now);
    if (created || changed) { this.emit(job, created); }
    return job;
  }

  /** end a job from the client's side (see JobStream.forceEnd) */
  end(jobId: string, state: JobState, error?: { code: string; message: string }): void {
    const job = this.jobs.get(jobId);
    if (!job || job.done) { return; }
    job.forceEnd(state, error);
    this.emit(job, false);
  }

  /** forget finished jobs beyond the newest `keep` */
  prune(keep = 50): void {
    const finished = this.all().filter(j => j.done);
    for (const j of finished.slice(0, Math.max(0, finished.length - keep))) { this.jobs.delete(j.jobId); }
  }

  clear(): void { this.jobs.clear(); }

  private emit(job: JobStream, created: boolean): void {
    for (const l of [...this.listeners]) { l(job, created); }
  }
}
