// Which command starts the server: the configured command, a Python interpreter, or `deepseek-lsp` on PATH.
// Pure apart from the injected file check, so it is unit-tested.
import * as path from 'path';

export interface ServerSettings {
  path?: string;        // deepseek.server.path
  args?: string[];      // deepseek.server.args
  pythonPath?: string;  // deepseek.server.pythonPath
}

export interface ResolvedServer {
  command: string;
  args: string[];
  /** how it was found, for the log and for error messages */
  source: 'setting' | 'python' | 'PATH';
}

export type IsExecutable = (file: string) => boolean;

export const SERVER_NAME = 'deepseek-lsp';

/** Look `name` up on PATH (with PATHEXT on Windows); undefined when absent. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv, isExecutable: IsExecutable,
  platform: string = process.platform): string | undefined {
  const sep = platform === 'win32' ? ';' : ':';
  const exts = platform === 'win32' ? (env.PATHEXT || '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (env.PATH || env.Path || '').split(sep)) {
    if (!dir) { continue; }
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutable(candidate)) { return candidate; }
    }
  }
  return undefined;
}

function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || env.USERPROFILE || '';
  return p.startsWith('~/') && home ? path.join(home, p.slice(2)) : p;
}

/**
 * Resolve the server command. Returns an error string (what is wrong and what to do) when nothing usable is found.
 * `workspaceFolder` replaces `${workspaceFolder}` in the settings.
 */
export function resolveServer(s: ServerSettings, env: NodeJS.ProcessEnv, isExecutable: IsExecutable,
  workspaceFolder?: string): ResolvedServer | { error: string } {
  const sub = (v: string) => expandHome(v.replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? ''), env);
  const extra = (s.args ?? []).map(sub);
  if (s.path && s.path.trim()) {
    const p = sub(s.path.trim());
    const found = p.includes('/') || p.includes('\\') ? (isExecutable(p) ? p : undefined) : findOnPath(p, env, isExecutable);
    if (!found) { return { error: `The server command "${p}" (setting deepseek.server.path) was not found or is not executable.` }; }
    return { command: found, args: extra, source: 'setting' };
  }
  if (s.pythonPath && s.pythonPath.trim()) {
    const py = sub(s.pythonPath.trim());
    const found = py.includes('/') || py.includes('\\') ? (isExecutable(py) ? py : undefined) : findOnPath(py, env, isExecutable);
    if (!found) { return { error: `The Python interpreter "${py}" (setting deepseek.server.pythonPath) was not found.` }; }
    return { command: found, args: ['-m', 'deepseek_lsp', ...extra], source: 'python' };
  }
  const onPath = findOnPath(SERVER_NAME, env, isExecutable);
  if (!onPath) {
    return { error: `The DeepSeek language server (${SERVER_NAME}) was not found on PATH.` };
  }
  return { command: onPath, args: extra, source: 'PATH' };
}
