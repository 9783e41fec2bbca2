// Runs the outside conformance suites in ../shared/conformance through the real CLI:
//  - Elasticsearch's EQL QA queries: `eqlambda query --category-field event_type` must
//    print exactly the expected events (compared by serial_event_id);
//  - 823 Elastic rule files: `eqlambda rules check` must report no errors;
//  - with those rules, the scan pipeline must report exactly the alerts of naive
//    evaluation on events built from the rules (scripts/differential.mjs).
// Exit 1 if anything fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const shared = process.env.EQLAMBDA_SHARED ?? `${root}../shared`;
const suite = `${shared}/conformance/es-eql`;
const cli = `${root}bin/eqlambda.mjs`;
if (!existsSync(suite)) {
  console.error(`conformance: ${suite} not found (set EQLAMBDA_SHARED)`);
  process.exit(1);
}

const queries = JSON.parse(readFileSync(`${suite}/queries.json`, 'utf8'));
let passed = 0;
const failures = [];
for (const q of queries) {
  const run = spawnSync(process.execPath, [cli, 'query', '--category-field', 'event_type', q.query, `${suite}/test_data.ndjson`], { encoding: 'utf8' });
  const got = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).serial_event_id).sort((a, b) => a - b);
  const want = [...q.expected_event_ids].sort((a, b) => a - b);
  if (run.status === 0 && JSON.stringify(got) === JSON.stringify(want)) passed++;
  else failures.push(`${q.suite} ${q.name}: got [${got}] want [${want}] ${run.stderr.trim()}`);
}
for (const f of failures) console.error(`FAIL ${f}`);
console.log(`es-eql: ${passed}/${queries.length} queries give exactly the expected events`);

const check = spawnSync(process.execPath, [cli, 'rules', 'check', `${shared}/conformance/elastic-rules`], { encoding: 'utf8' });
const report = check.stderr.trim().split('\n');
if (check.status !== 0) console.error(report.slice(0, -1).join('\n'));
console.log(`elastic-rules: ${report.at(-1)}`);

const differential = spawnSync(process.execPath, [`${root}scripts/differential.mjs`, `${shared}/conformance/elastic-rules`], { encoding: 'utf8', maxBuffer: 1 << 24 });
process.stderr.write(differential.stderr);
process.stdout.write(differential.stdout);
process.exit(failures.length === 0 && check.status === 0 && differential.status === 0 ? 0 : 1);
