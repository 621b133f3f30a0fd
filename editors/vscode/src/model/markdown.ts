// Markdown to HTML for our webviews. Raw HTML from the model is shown as text, never interpreted;
// links keep only http(s)/mailto; each fenced code block gets "Insert" / "Apply to selection" buttons.
// Pure (no `vscode`): bundled into the extension, run in the extension host.
import { Marked, type Tokens } from 'marked';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export interface RenderOptions {
  /** add Insert / Apply buttons under code blocks */
  codeActions?: boolean;
}

function makeMarked(opts: RenderOptions): Marked {
  const m = new Marked({ gfm: true, breaks: false, async: false });
  m.use({
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag): string { return escapeHtml(text); },
      code({ text, lang }: Tokens.Code): string {
        const language = (lang || '').match(/^[\w+#.-]*/)?.[0] ?? '';
        const cls = language ? ` class="language-${escapeHtml(language)}"` : '';
        const buttons = opts.codeActions
          ? '<div class="code-actions">' +
            '<button class="code-insert" title="Insert at the cursor">Insert</button>' +
            '<button class="code-apply" title="Replace the selection">Apply to selection</button>' +
            '<button class="code-copy" title="Copy">Copy</button></div>'
          : '';
        return `<div class="code-block"><pre><code${cls}>${escapeHtml(text.replace(/\n$/, ''))}</code></pre>${buttons}</div>\n`;
      },
      link({ href, title, tokens }: Tokens.Link): string {
        const inner = this.parser.parseInline(tokens);
        if (!/^(https?:|mailto:)/i.test(href)) { return inner; }
        const t = title ? ` title="${escapeHtml(title)}"` : '';
        return `<a href="${escapeHtml(href)}"${t}>${inner}</a>`;
      },
      image({ text }: Tokens.Image): string { return escapeHtml(text); },
    },
  });
  return m;
}

const cache = new Map<string, Marked>();

/** Render Markdown (possibly incomplete: a stream cut mid-fence renders as an open code block). */
export function renderMarkdown(text: string, opts: RenderOptions = {}): string {
  const key = opts.codeActions ? 'a' : 'p';
  let m = cache.get(key);
  if (!m) { m = makeMarked(opts); cache.set(key, m); }
  return m.parse(text ?? '', { async: false }) as string;
}
