/**
 * The files of the gearbox package as npm would ship them, for tests that look at what an
 * installed gearbox (not the checkout) does.
 */
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled tree the tests run from (`dist/`, or GEARBOX_DIST). */
export const distRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The parts of package.json these tests read. */
export interface PackageJson {
  readonly name: string;
  readonly files: readonly string[];
  readonly bin: Readonly<Record<string, string>>;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
}

/** The checkout the compiled tree was built from: the first folder above it named gearbox. */
export function checkoutRoot(): string {
  for (let dir = distRoot; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && readPackageJson(dir).name === 'gearbox') return dir;
  }
  throw new Error(`no gearbox package.json above ${distRoot}`);
}

/** The package.json in `dir`. */
export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * Copies what `npm pack` takes from the checkout into `to`: package.json, the README and
 * licence files npm always includes, and each `files` entry — `dist/…` entries from the
 * compiled tree the tests run from, so that a GEARBOX_DIST build is the one packed. Returns the
 * package.json.
 */
export function copyPackageFiles(to: string): PackageJson {
  const root = checkoutRoot();
  const pkg = readPackageJson(root);
  const always = readdirSync(root).filter((name) => /^(readme|licen[cs]e)(\.|$)/i.test(name));
  for (const entry of ['package.json', ...always, ...pkg.files]) {
    const from = entry.startsWith('dist/') ? join(distRoot, entry.slice(5)) : join(root, entry);
    cpSync(from, join(to, entry), { recursive: true });
  }
  return pkg;
}
