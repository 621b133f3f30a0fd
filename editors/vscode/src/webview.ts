// The HTML shell shared by our webviews: strict CSP, one nonce'd script, our stylesheet.
import * as vscode from 'vscode';
import * as crypto from 'crypto';

export function webviewHtml(webview: vscode.Webview, extUri: vscode.Uri, script: string, body: string, title: string): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const css = webview.asWebviewUri(vscode.Uri.joinPath(extUri, 'media', 'webview.css'));
  const js = webview.asWebviewUri(vscode.Uri.joinPath(extUri, 'media', script));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} https: data:; style-src ${webview.cspSource} 'unsafe-inline'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${css}" rel="stylesheet"><title>${title}</title></head>
<body>${body}<script nonce="${nonce}" src="${js}"></script></body></html>`;
}
