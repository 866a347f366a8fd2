// The closing lines of a CI log: one count over every suite's JSON report and, when a test failed,
// what it said, compacted. CI keeps only the end of its log (about 1,300 characters in the
// project's CI view), which a failure's code frame and stack fill on their own: the reason has to
// come last and short. Exits 1 when a test failed or none passed.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '.cache/test-reports';
const BUDGET = 1000; // characters of failure text, the newest failure's kept whole first

// eslint-disable-next-line no-control-regex -- the ANSI colour codes vitest writes
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const cut = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A failure message in a few lines: its first line, then the `msg` of the scorer log lines it quotes (the last 4). */
function compact(message) {
  const lines = strip(message).split('\n').map((l) => l.trim()).filter(Boolean);
  const head = lines.find((l) => !l.startsWith('{') && !/^at /.test(l)) ?? '';
  const logged = lines
    .filter((l) => l.startsWith('{'))
    .map((l) => /"msg":"((?:[^"\\]|\\.)*)/.exec(l)?.[1])
    .filter(Boolean)
    .slice(-4)
    .map((m) => `  · ${cut(m, 150)}`);
  return [cut(head, 300), ...logged].join('\n');
}

let passed = 0, failed = 0, skipped = 0;
const failures = [];
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
for (const f of files) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  for (const file of r.testResults ?? []) {
    for (const a of file.assertionResults ?? []) {
      if (a.status === 'failed') failures.push(`✗ ${f.replace(/\.json$/, '')}: ${cut(a.fullName ?? a.title, 120)}\n${compact((a.failureMessages ?? []).join('\n'))}`);
    }
    // A file that failed before its tests ran (an import, a hook) has a message and no failed test.
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((a) => a.status === 'failed')) {
      failures.push(`✗ ${f.replace(/\.json$/, '')}: ${path.basename(file.name)}\n${compact(file.message ?? '')}`);
    }
  }
}

if (failures.length > 0) {
  const shown = [];
  let left = BUDGET;
  for (const text of failures.reverse()) {
    if (text.length > left && shown.length > 0) break;
    shown.unshift(cut(text, left));
    left -= text.length;
  }
  console.log(`--- ${failures.length} failed test(s)${shown.length < failures.length ? `, the last ${shown.length} shown` : ''}:\n${shown.join('\n')}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed === 0 || failed > 0 || failures.length > 0) process.exit(1);
