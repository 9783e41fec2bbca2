// Regenerates examples/: realistic ECS logs (mostly benign, near misses included) with a
// few true positives for both shipped rules, in the shapes each agent writes.
// Deterministic: the same script always writes the same bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Corpus } from './corpus.mjs';

const out = new URL('../examples/', import.meta.url);
mkdirSync(out, { recursive: true });
const corpus = new Corpus(20261123);
const write = (name, docs, gzip = true) => {
  const text = Buffer.from(docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
  writeFileSync(new URL(name, out), gzip ? gzipSync(text, { level: 9, mtime: 0 }) : text);
  console.log(`${name}: ${docs.length} events`);
};

// Elastic Defend (Fleet data streams): thousands of process and file events.
const defend = [...corpus.lines(6000, { nearMiss: 0.02, truePositive: 0 })].map((l) => JSON.parse(l.line));
defend.splice(1234, 0, corpus.openssl());
defend.splice(3456, 0, corpus.sshBackdoor());
defend.splice(5000, 0, corpus.openssl());
write('defend-linux-2026-11-20.ndjson.gz', defend);

/** File events from one agent's template; the event at `backdoorAt` is a patched sshd writing a log. */
function fileEvents(template, count, backdoorAt, backdoorPath, executables, paths) {
  const docs = [];
  for (let i = 0; i < count; i++) {
    const doc = corpus.base(template);
    const backdoor = i === backdoorAt;
    const executable = backdoor ? '/usr/sbin/sshd' : corpus.pick(executables);
    doc.process = { ...doc.process, executable, name: executable.split('/').pop() };
    const path = backdoor ? backdoorPath : corpus.pick(paths);
    const name = path.split('/').pop();
    doc.file = { ...doc.file, path, name };
    if (name.includes('.')) doc.file.extension = name.split('.').pop();
    else delete doc.file.extension;
    docs.push(doc);
  }
  return docs;
}

// Standalone Auditbeat file integrity (index auditbeat-<version>): only the ssh rule applies.
write(
  'auditbeat-fim.ndjson.gz',
  fileEvents('auditbeat-fim-updated-sshd', 800, 417, '/usr/include/.ssh_keys.h', ['/usr/bin/dpkg', '/usr/sbin/logrotate', '/usr/bin/vim'], [
    '/etc/ssh/sshd_config',
    '/var/log/auth.log',
    '/etc/passwd',
    '/usr/lib/libc.so.6',
  ]),
);

// SentinelOne Cloud Funnel: file modifications, one by a patched sshd.
write(
  'sentinelone-cloud-funnel.ndjson.gz',
  fileEvents('sentinel-one-linux-file-modification-ssh', 600, 250, '/usr/share/locale/.sshd_log.gz', ['/usr/bin/python3', '/usr/sbin/cron', '/usr/bin/ssh'], [
    '/home/bob/.ssh/known_hosts',
    '/var/spool/cron/root',
    '/srv/app/out.log',
  ]),
);

// Endgame, written plain (not gzipped): the scanner sniffs compression from the bytes.
const endgame = [];
for (let i = 0; i < 400; i++) {
  const doc = corpus.base('endgame-linux-exec-openssl');
  const tp = i === 123;
  const args = tp ? ['openssl', 's_client', '-connect', '198.51.100.9:993'] : corpus.pick([['openssl', 'version'], ['bash', '-c', 'uptime'], ['python3', 'app.py']]);
  doc.process = { ...doc.process, name: args[0], args, executable: `/usr/bin/${args[0]}` };
  endgame.push(doc);
}
write('endgame-linux.ndjson', endgame, false);
