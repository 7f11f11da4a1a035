/**
 * The Content-Security-Policy of the web client. The build has no inline script or style (Vite emits
 * files; React and the charts set styles through the CSSOM, which `style-src` does not govern), so
 * everything comes from the app's own origin, the API included, and nothing may frame the pages
 * (clickjacking: a framed "Record dose" button could be clicked through a decoy).
 */
export const webContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers of every web page and asset: the CSP above, no MIME sniffing (a file is only ever what its
 * content type says), no referrer leaving the app (URLs carry household and animal ids), no framing
 * in browsers older than `frame-ancestors`, and a browsing context of its own (no `window.opener`
 * from a page that opened this one).
 */
export const pageSecurityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': webContentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};
