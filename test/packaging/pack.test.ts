// `npm pack` ships what a user needs (built JS, protos, Fluentd/Vector bundles, regexes,
// examples, README) and nothing that should stay home (tests, sources' build leftovers, keys, secrets).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, ensureBuilt } from '../helpers/bridge.js';

t.test('npm pack --dry-run: contents', async (t) => {
  ensureBuilt();
  // --ignore-scripts: `prepare` would rebuild dist/ under the feet of other tests.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  const [pkg] = JSON.parse(r.stdout) as { name: string; files: { path: string; size: number }[]; unpackedSize: number }[];
  const files = pkg!.files.map((f) => f.path);
  const has = (p: string) => files.includes(p);
  const under = (d: string) => files.filter((f) => f.startsWith(d));
  for (const p of ['dist/cli.js', 'package.json', 'README.md', 'dist/obs/metrics.js', 'dist/obs/http.js', 'dist/obs/status.js']) t.ok(has(p), `ships ${p}`);
  const bin = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin['duo-log-bridge'];
  t.ok(has(bin.replace(/^\.\//, '')), `the bin (${bin}) is in the tarball`);
  t.match(readFileSync(path.join(ROOT, bin), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the bin starts with a node shebang');
  for (const d of ['vector/proto/', 'fluentd/', 'vector/', 'regex/', 'examples/']) t.ok(under(d).length > 0, `ships ${d} (${under(d).length} files)`);
  t.ok(under('vector/proto/').some((f) => f.endsWith('.proto')), 'the .proto files');
  t.ok(has('examples/systemd/duo-log-bridge.service'), 'the systemd unit');
  for (const dir of ['src/', 'test/', 'node_modules/', 'dist-bench/', '.tap/', 'docs-drafts/', '.git/']) t.same(under(dir), [], `nothing from ${dir}`);
  t.same(files.filter((f) => /(^|\/)[^/]*\.(test|bench)\.[cm]?[jt]s$|\.tsbuildinfo$/.test(f)), [], 'no test or bench files');
  t.same(files.filter((f) => /\.(pem|key|p12|pfx|crt|tgz)$|(^|\/)\.env|(^|\/)(id_rsa|secret_key)$|\.npmrc$/.test(f)), [], 'no keys, certificates, env files or tarballs');
  // No secret-looking value in any shipped text file: a 40-character Duo secret key or a private key block.
  const leaks: string[] = [];
  for (const f of files) {
    if (!/\.(js|json|ya?ml|conf|toml|md|txt|service|proto)$/.test(f) || f.endsWith('.map')) continue;
    const text = readFileSync(path.join(ROOT, f), 'utf8');
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) leaks.push(`${f}: private key`);
    for (const m of text.matchAll(/secret_key:\s*["']?([A-Za-z0-9]{40})\b/g)) leaks.push(`${f}: secret_key ${m[1]!.slice(0, 4)}…`);
  }
  t.same(leaks, [], 'no secret values in shipped files');
  t.ok(pkg!.unpackedSize < 5_000_000, `unpacked size ${pkg!.unpackedSize} bytes stays small`);
});
