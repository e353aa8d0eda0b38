// The dashboard's HTML shell: the bundle (dist/web, built by `npm run build:web`)
// renders everything; no CDN, nothing fetched from outside.

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function pageHtml(replicaId: string, built: boolean): string {
  const body = built
    ? `<div id="app" data-replica="${escape(replicaId)}"></div><script type="module" src="/app.js"></script>`
    : `<p>The dashboard bundle is not built: run <code>make build</code> (or <code>npm run build</code>).</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Halon · ${escape(replicaId)}</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
${body}
</body>
</html>
`;
}
