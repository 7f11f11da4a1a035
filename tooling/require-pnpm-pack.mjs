// The `prepack` script of every publishable package (core, trpc, drizzle, redis). It runs in the
// package's source directory before a tarball is made, and refuses two tarballs that would pack without
// an error but not install:
// - one made by npm (`npm pack`, `npm publish`): npm copies package.json as it is, with the workspace's
//   "workspace:*" and "catalog:" specifiers, and npm cannot install a dependency given that way
//   (EUNSUPPORTEDPROTOCOL). pnpm replaces them with versions when it packs.
// - one without `dist`: package.json's entry points are in `dist`, which only a build writes.
//   node ../../tooling/require-pnpm-pack.mjs
import { existsSync } from 'node:fs';

const name = process.env.npm_package_name ?? 'this package';
const agent = process.env.npm_config_user_agent ?? '';

if (!agent.startsWith('pnpm/')) {
  console.error(
    `${name}: pack it with pnpm (\`npx -y pnpm@10 pack\`), not ${agent.split(' ')[0] || 'this tool'}. ` +
      'Its package.json uses the workspace\'s "workspace:*" and "catalog:" specifiers, which pnpm replaces ' +
      'with versions when it packs; npm copies them as they are, and npm cannot install a dependency ' +
      'given that way (EUNSUPPORTEDPROTOCOL).',
  );
  process.exit(1);
}
if (!existsSync('dist')) {
  console.error(
    `${name}: dist/ is missing, so the tarball would have no entry points. Build first: ` +
      `\`npx -y pnpm@10 --filter ${name}... build\`.`,
  );
  process.exit(1);
}
