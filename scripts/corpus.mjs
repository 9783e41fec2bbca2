// Deterministic ECS log generator for the bundled examples and the benchmark corpus.
// Event shapes come from the fixtures in test/fixtures/events, which are trimmed from
// real Elastic Defend, Auditbeat, SentinelOne and Endgame documents (../shared/samples).
import { readdirSync, readFileSync } from 'node:fs';

const FIXTURES = new URL('../test/fixtures/events/', import.meta.url);

function loadTemplates() {
  const out = {};
  for (const name of readdirSync(FIXTURES)) {
    const doc = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
    delete doc._fixture;
    out[name.replace(/\.json$/, '')] = doc;
  }
  return out;
}

/** mulberry32: small, fast, seedable. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTS = ['web-01', 'web-02', 'db-01', 'build-07', 'bastion', 'k8s-node-3', 'mail-01', 'jump-02'];
const USERS = ['root', 'www-data', 'deploy', 'postgres', 'alice', 'bob', 'jenkins'];
const BENIGN_EXECS = [
  ['/usr/bin/bash', ['bash', '-c', 'run-parts /etc/cron.hourly']],
  ['/usr/bin/python3', ['python3', '/opt/app/worker.py', '--queue', 'default']],
  ['/usr/bin/curl', ['curl', '-fsS', 'https://updates.example.com/health']],
  ['/usr/sbin/nginx', ['nginx', '-s', 'reload']],
  ['/usr/bin/systemctl', ['systemctl', 'is-active', 'postgresql']],
  ['/usr/bin/git', ['git', 'fetch', '--prune', 'origin']],
  ['/usr/bin/tar', ['tar', '-czf', '/var/backups/app.tgz', '/srv/app']],
  ['/usr/bin/node', ['node', '/srv/api/server.js']],
  ['/usr/bin/ls', ['ls', '-la', '/var/log']],
  ['/usr/bin/grep', ['grep', '-r', 'ERROR', '/var/log/app']],
];
const BENIGN_FILES = [
  ['/usr/sbin/rsyslogd', '/var/log/syslog'],
  ['/usr/bin/python3', '/srv/app/cache/session.db'],
  ['/usr/sbin/nginx', '/var/log/nginx/access.log'],
  ['/usr/bin/dockerd', '/var/lib/docker/overlay2/l/ABC123/link'],
  ['/usr/lib/systemd/systemd-journald', '/var/log/journal/system.journal'],
  ['/usr/bin/vim', '/home/alice/notes.txt'],
];

// Lines that mention openssl / ssh / sshd but must NOT match either rule.
const NEAR_MISS_EXECS = [
  ['/usr/bin/openssl', ['openssl', 's_client', '-connect', 'example.com:443', '-showcerts']], // excluded -showcerts
  ['/usr/bin/openssl', ['openssl', 'x509', '-in', '/etc/ssl/certs/site.pem', '-noout', '-dates']],
  ['/usr/bin/openssl', ['openssl', 'req', '-new', '-key', 'site.key', '-out', 'site.csr']],
  ['/usr/bin/openssl', ['openssl', 'version']],
  ['/usr/sbin/sshd', ['sshd', '-D']],
  ['/usr/bin/ssh', ['ssh', '-o', 'BatchMode=yes', 'deploy@db-01', 'uptime']],
  ['/usr/bin/ssh-keygen', ['ssh-keygen', '-lf', '/etc/ssh/ssh_host_ed25519_key.pub']],
];
const NEAR_MISS_FILES = [
  ['/usr/sbin/sshd', '/root/.bash_history', 'change'], // excluded file name
  ['/usr/sbin/sshd', '/home/alice/.cache', 'change'], // excluded file name
  ['/usr/bin/ssh', '/home/alice/.ssh/known_hosts', 'change'], // no suspicious name, extension or path
  ['/usr/sbin/sshd', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3', 'creation'], // creation, not change
  ['/usr/bin/vim', '/etc/ssh/sshd_config', 'change'], // not an ssh process
];

const TP_OPENSSL = [
  ['openssl', 's_client', '-quiet', '-connect', '203.0.113.7:4443'],
  ['openssl', 's_server', '-quiet', '-key', '/tmp/k.pem', '-cert', '/tmp/c.pem', '-port', '8443'],
];
const TP_SSH_FILES = [
  ['/usr/sbin/sshd', '/usr/lib/libkeyutils.so.1.9'],
  ['/usr/sbin/sshd', '/tmp/.sshd_auth'],
  ['/usr/bin/ssh', '/usr/share/man/man1/.ssh-log.1'],
  ['/usr/sbin/sshd', '/var/run/sshd/sshd.pid'],
];

export class Corpus {
  constructor(seed = 1) {
    this.random = rng(seed);
    this.t = Date.UTC(2026, 10, 20, 6, 0, 0);
    this.templates = loadTemplates();
    this.sequence = 0;
  }

  pick(list) {
    return list[Math.floor(this.random() * list.length)];
  }

  base(templateName, extra = {}) {
    const doc = structuredClone(this.templates[templateName]);
    this.t += Math.floor(this.random() * 900);
    const ts = new Date(this.t).toISOString();
    doc['@timestamp'] = ts;
    if (doc.event) {
      doc.event.created = ts;
      doc.event.ingested = ts;
      doc.event.id = `${templateName.slice(0, 3)}${(this.sequence++).toString(36)}`;
      if ('sequence' in doc.event) doc.event.sequence = this.sequence;
    }
    const host = this.pick(HOSTS);
    if (doc.host) {
      doc.host.name = host;
      doc.host.hostname = host;
    }
    if (doc.user) doc.user.name = this.pick(USERS);
    return Object.assign(doc, extra);
  }

  /** A Defend exec event for the given executable and args. */
  exec(executable, args, parentExecutable = '/usr/bin/bash') {
    const doc = this.base('defend-linux-process-exec-openssl');
    const name = executable.split('/').pop();
    doc.process = {
      ...doc.process,
      name,
      executable,
      args,
      args_count: args.length,
      command_line: args.join(' '),
      pid: 1000 + Math.floor(this.random() * 60000),
      parent: { ...doc.process.parent, executable: parentExecutable, name: parentExecutable.split('/').pop(), pid: 900 + Math.floor(this.random() * 1000) },
    };
    return doc;
  }

  /** A Defend file event. */
  file(executable, path, type = 'change') {
    const doc = this.base('defend-linux-file-rename-sshd');
    const name = path.split('/').pop();
    const dot = name.lastIndexOf('.');
    doc.event.type = [type];
    doc.event.action = type === 'creation' ? 'creation' : 'modification';
    doc.file = { path, name, directory: path.slice(0, path.length - name.length - 1), inode: String(100000 + Math.floor(this.random() * 900000)) };
    if (dot > 0) doc.file.extension = name.slice(dot + 1);
    else delete doc.file.extension;
    doc.process = { ...doc.process, executable, name: executable.split('/').pop(), pid: 1000 + Math.floor(this.random() * 60000) };
    return doc;
  }

  benign() {
    if (this.random() < 0.6) {
      const [exe, args] = this.pick(BENIGN_EXECS);
      return this.exec(exe, args);
    }
    const [exe, path] = this.pick(BENIGN_FILES);
    return this.file(exe, path, this.random() < 0.7 ? 'change' : 'creation');
  }

  nearMiss() {
    if (this.random() < 0.55) {
      const [exe, args] = this.pick(NEAR_MISS_EXECS);
      const parent = args[1] === 's_client' && this.random() < 0.3 ? '/opt/antidot-svc/nrpe/plugins/check_cert' : '/usr/bin/bash';
      return this.exec(exe, args, parent);
    }
    const [exe, path, type] = this.pick(NEAR_MISS_FILES);
    return this.file(exe, path, type);
  }

  openssl() {
    return this.exec('/usr/bin/openssl', this.pick(TP_OPENSSL), this.pick(['/usr/bin/bash', '/usr/bin/python3', '/tmp/.x/run.sh']));
  }

  sshBackdoor() {
    const [exe, path] = this.pick(TP_SSH_FILES);
    return this.file(exe, path, 'change');
  }

  /**
   * Yields `count` NDJSON lines with the given shares of near misses and true positives
   * (half openssl, half ssh backdoor). Each item: { line, kind }.
   */
  *lines(count, { nearMiss = 0.02, truePositive = 0.001 } = {}) {
    for (let i = 0; i < count; i++) {
      const r = this.random();
      let kind = 'benign';
      let doc;
      if (r < truePositive) {
        kind = this.random() < 0.5 ? 'openssl' : 'ssh';
        doc = kind === 'openssl' ? this.openssl() : this.sshBackdoor();
      } else if (r < truePositive + nearMiss) {
        kind = 'near_miss';
        doc = this.nearMiss();
      } else {
        doc = this.benign();
      }
      yield { line: JSON.stringify(doc), kind };
    }
  }
}
