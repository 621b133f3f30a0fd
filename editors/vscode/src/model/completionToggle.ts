// Inline completion's status bar toggle: what it shows and where a toggle writes the setting.
// Pure: no `vscode` import, so it is unit-tested with node's test runner.

/** how `deepseek.completion.enabled` is set at each level (the shape of `WorkspaceConfiguration.inspect`) */
export interface SettingLevels {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export type SettingTarget = 'global' | 'workspace' | 'workspaceFolder';

/** The level a toggle writes: the most specific one that sets the value, so the toggle always takes
 * effect (writing the user settings under a workspace value would change nothing); the user settings
 * when no level sets it. */
export function toggleTarget(levels: SettingLevels | undefined): SettingTarget {
  if (levels?.workspaceFolderValue !== undefined) { return 'workspaceFolder'; }
  if (levels?.workspaceValue !== undefined) { return 'workspace'; }
  return 'global';
}

/** What the status bar item shows. `supported`: whether the running server offers inline completion
 * (undefined: no server running, nothing known). */
export function completionStatusView(enabled: boolean, supported: boolean | undefined): { text: string; tooltip: string; label: string } {
  const text = `$(${enabled ? 'check' : 'circle-slash'}) DeepSeek`;
  const label = `DeepSeek inline completion: ${enabled ? 'on' : 'off'}`;
  let tooltip = enabled
    ? 'DeepSeek inline completion is on: ghost text as you type (Tab accepts). Click to turn it off.'
    : 'DeepSeek inline completion is off. Click to turn it on.';
  if (supported === false) {
    tooltip += '\nThis deepseek-lsp offers no inline completion: update the server.';
  }
  return { text, tooltip, label };
}
