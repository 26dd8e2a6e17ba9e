/* global console, URL -- a Node script: the shared ESLint config lists only a few globals for .mjs files */
// Checks the package as npm would publish it (run after `npm run build`):
//  1. publint and @arethetypeswrong/cli on the packed tarball;
//  2. the tarball's contents: LICENSE and README, source maps that resolve (sources inlined),
//     no optional peer (iovalkey, redis, terminus, event-emitter, a test runner) named by a
//     public .d.ts, so `nodes` stays strictly typed for apps that do not install them;
//  3. every TypeScript block of the README, type-checked as written against the packed types,
//     as a CommonJS app made by `nest new` would compile it (skipLibCheck off).
// Everything is written under .tmp/ (git-ignored) and removed at the end.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const failures = [];
const fail = (message) => failures.push(message);

function run(command, args, options = {}) {
  return execFileSync(command, args, { cwd: root, encoding: 'utf8', stdio: 'pipe', ...options });
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

mkdirSync(join(root, '.tmp'), { recursive: true });
const work = mkdtempSync(join(root, '.tmp', 'package-'));
try {
  // ---- 1. pack, publint, attw -----------------------------------------------------------
  const tarballName = run('npm', [
    'pack',
    '--ignore-scripts',
    '--silent',
    '--pack-destination',
    work,
  ])
    .trim()
    .split('\n')
    .pop();
  const tarball = join(work, tarballName);
  console.log(`packed ${relative(root, tarball)}`);
  try {
    console.log(run(bin('publint'), ['run', tarball, '--strict']).trim());
  } catch (error) {
    fail(`publint:\n${error.stdout}${error.stderr}`);
  }
  try {
    // node16 covers Node's CommonJS and ESM resolution and bundlers; node10 (no `exports`)
    // cannot see subpaths at all and is gone from TypeScript 7.
    run(bin('attw'), [tarball, '--profile', 'node16', '--format', 'table-flipped']);
    console.log('attw: no problems (node16, bundler)');
  } catch (error) {
    fail(`@arethetypeswrong/cli:\n${error.stdout}${error.stderr}`);
  }

  // ---- 2. contents ----------------------------------------------------------------------
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['xzf', tarball, '-C', unpacked]);
  const pkg = join(unpacked, 'package');
  for (const file of ['LICENSE', 'README.md', 'package.json']) {
    if (!existsSync(join(pkg, file))) fail(`the tarball has no ${file}`);
  }
  const optionalPeers =
    /^(iovalkey|redis|@redis\/.*|@nestjs\/terminus|@nestjs\/event-emitter|@jest\/.*|jest|vitest)$/;
  const specifiers = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g;
  let maps = 0;
  for (const file of walk(join(pkg, 'dist'))) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.d.ts')) {
      // Examples in TSDoc comments may show other clients; only declarations count.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const [, specifier] of code.matchAll(specifiers)) {
        if (optionalPeers.test(specifier)) {
          fail(`${relative(pkg, file)} names the optional peer "${specifier}"`);
        }
      }
    }
    if (file.endsWith('.map')) {
      maps += 1;
      const map = JSON.parse(text);
      if (!Array.isArray(map.sourcesContent) || map.sourcesContent.length !== map.sources.length) {
        fail(`${relative(pkg, file)} points at sources the package does not ship`);
      }
    }
  }
  console.log(`contents: ${maps} source maps with their sources inlined`);

  // ---- 3. README blocks -----------------------------------------------------------------
  // Inside the repository, so the packed types find the peers in node_modules/.
  const app = join(work, 'readme');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  cpSync(pkg, join(app, 'node_modules', 'nestjs-redlock'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'readme-check', private: true }));
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const names = new Set();
  blocks.forEach((code, index) => {
    // A first line `// src/app.module.ts` names the file, so blocks can import each other.
    const named = /^\/\/ (\S+\.ts)\b/.exec(code)?.[1];
    const name = named ?? `block-${index + 1}.ts`;
    if (names.has(name)) fail(`README: two blocks are named ${name}`);
    names.add(name);
    mkdirSync(join(app, name, '..'), { recursive: true });
    // Each block is its own module, even one without imports.
    writeFileSync(join(app, name), `${code}\nexport {};\n`);
  });
  // `nodes` must stay strictly typed without the optional peers installed.
  writeFileSync(
    join(app, 'strict-nodes.ts'),
    [
      "import { RedlockModule } from 'nestjs-redlock';",
      '// @ts-expect-error a number is not a node',
      'RedlockModule.forRoot({ nodes: [42] });',
      'export {};',
    ].join('\n'),
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      // What `nest new` (Nest 11) generates, with skipLibCheck off to check the packed types.
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2023',
        lib: ['ES2023', 'ESNext.Disposable'],
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
        strict: true,
        strictPropertyInitialization: false,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        esModuleInterop: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ['**/*.ts'],
      exclude: ['node_modules'],
    }),
  );
  try {
    run(bin('tsc'), ['-p', join(app, 'tsconfig.json')]);
    console.log(`README: ${blocks.length} TypeScript blocks type-check as written`);
  } catch (error) {
    fail(`README blocks do not type-check:\n${error.stdout}${error.stderr}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(failures.join('\n\n'));
  process.exit(1);
}
