// esbuild bundles the stylesheet the page imports into dist/web/app.css.
declare module "*.css";
