/**
 * The shipped "Potential OpenSSH Backdoor Logging Activity" rule (v211), evaluated over
 * events built from real Elastic Defend / Auditbeat FIM / SentinelOne / Endgame shapes:
 *
 *   file where host.os.type == "linux" and event.type == "change" and
 *     process.executable : ("/usr/sbin/sshd", "/usr/bin/ssh") and
 *     ( (file.name : (".*", "~*", "*~") and not file.name : (".cache", ".viminfo", ".bash_history",
 *          ".google_authenticator", ".jelenv", ".csvignore", ".rtreport"))
 *       or file.extension : ("in", "out", "ini", "h", "gz", "so", "sock", "sync", "0", ..., "9")
 *       or file.path : ("/private/etc/*--", "/usr/share/*", ..., "/usr/lib/*.so.*", ..., "/var/run/udevd.pid") )
 *
 * Each case sets file.name, file.extension and file.path together so that exactly the
 * branch named in the case can hold.
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lambda/engine/index.js';
import { eventIndex, RuleRouter } from '../../lambda/rules/routing.js';
import { detect, field, fixture, opensslRule, OPENSSL_RULE_ID, routingShapes, SSH_RULE_ID, sshRule, variant } from './helpers.js';

const rule = sshRule();
const matches = (event: Event): boolean => rule.compiled.matches(event);

/** Defend rename by /usr/sbin/sshd to /var/log/.sshd_auth.log (extension "log"): only the ".*" name pattern holds. */
const defend = fixture('defend-linux-file-rename-sshd');
/** Standalone Auditbeat FIM update by sshd of /var/run/nscd/ns.pid: only the path list holds. */
const fim = fixture('auditbeat-fim-updated-sshd');
/** SentinelOne change by /usr/bin/ssh of /usr/lib/x86_64-linux-gnu/libkeyutils.so.1.9, no file.name/extension. */
const s1 = fixture('sentinel-one-linux-file-modification-ssh');

/** The file fields of the Defend fixture replaced; `extension` undefined = field absent. */
const file = (name: string | undefined, extension: unknown, path: string): Event =>
  variant(defend, {
    'file.name': name,
    'file.extension': extension,
    'file.path': path,
    'file.Ext': undefined,
  });

interface Case {
  name: string;
  event: Event;
  expected: boolean;
}

describe('ssh backdoor rule: the shipped file', () => {
  it('is the v211 EQL rule', () => {
    expect(rule.id).toBe(SSH_RULE_ID);
    expect(rule.name).toBe('Potential OpenSSH Backdoor Logging Activity');
    expect(rule.version).toBe(211);
    expect(rule.severity).toBe('low');
    expect(rule.risk_score).toBe(21);
    expect(rule.index).toEqual(['auditbeat-*', 'logs-endpoint.events.file-*', 'endgame-*', 'logs-sentinel_one_cloud_funnel.*']);
    expect(rule.compiled.query.category).toBe('file');
  });

  it('fixtures hold what the cases below assume', () => {
    expect(field(defend, 'file.name')).toBe('.sshd_auth.log');
    expect(field(defend, 'file.extension')).toBe('log');
    expect(field(fim, 'event.action')).toEqual(['updated']);
    expect(field(fim, 'file.path')).toBe('/var/run/nscd/ns.pid');
    expect(field(s1, 'file.name')).toBeUndefined();
    expect(field(s1, 'file.extension')).toBeUndefined();
    expect(field(s1, 'event.action')).toBeUndefined();
  });
});

describe('ssh backdoor rule: the real shapes as recorded', () => {
  const cases: Case[] = [
    { name: 'Elastic Defend rename by sshd to a hidden log (name branch)', event: defend, expected: true },
    { name: 'standalone Auditbeat FIM update of /var/run/nscd/ns.pid (path branch)', event: fim, expected: true },
    { name: 'SentinelOne change of /usr/lib/.../libkeyutils.so.1.9 (path branch, no file.name)', event: s1, expected: true },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: file.name patterns and exclusions', () => {
  const cases: Case[] = [
    { name: '".*": hidden file .sshd_auth.log', event: file('.sshd_auth.log', 'log', '/var/log/.sshd_auth.log'), expected: true },
    { name: '".*": a bare "." prefix is enough (.k)', event: file('.k', undefined, '/tmp/.k'), expected: true },
    { name: '"~*": ~sess.tmp', event: file('~sess.tmp', 'tmp', '/tmp/~sess.tmp'), expected: true },
    { name: '"*~": editor backup sshd_config~', event: file('sshd_config~', undefined, '/etc/ssh/sshd_config~'), expected: true },
    { name: 'no pattern: sshd.log', event: file('sshd.log', 'log', '/var/log/sshd.log'), expected: false },
    { name: 'no pattern: a "~" in the middle (a~b)', event: file('a~b', undefined, '/tmp/a~b'), expected: false },
    { name: 'no pattern: a "." in the middle (authorized_keys.d)', event: file('authorized_keys.d', 'd', '/root/.ssh/authorized_keys.d'), expected: false },
    { name: 'no pattern: ssh client updating ~/.ssh/known_hosts', event: file('known_hosts', undefined, '/root/.ssh/known_hosts'), expected: false },
    { name: 'excluded: .bash_history', event: file('.bash_history', undefined, '/root/.bash_history'), expected: false },
    { name: 'excluded: .viminfo', event: file('.viminfo', undefined, '/root/.viminfo'), expected: false },
    { name: 'excluded: .cache', event: file('.cache', undefined, '/root/.cache'), expected: false },
    { name: 'excluded: .google_authenticator', event: file('.google_authenticator', undefined, '/home/ops/.google_authenticator'), expected: false },
    { name: 'excluded: .jelenv', event: file('.jelenv', undefined, '/root/.jelenv'), expected: false },
    { name: 'excluded: .csvignore', event: file('.csvignore', undefined, '/root/.csvignore'), expected: false },
    { name: 'excluded: .rtreport', event: file('.rtreport', undefined, '/root/.rtreport'), expected: false },
    { name: 'excluded case-insensitively: .BASH_HISTORY (: folds case)', event: file('.BASH_HISTORY', undefined, '/root/.BASH_HISTORY'), expected: false },
    { name: 'not excluded: .bash_history.bak (exclusions are exact names)', event: file('.bash_history.bak', 'bak', '/root/.bash_history.bak'), expected: true },
    {
      name: 'excluded name still alerts through the path branch (.cache under /usr/share/)',
      event: file('.cache', undefined, '/usr/share/.cache'),
      expected: true,
    },
    {
      name: 'excluded name still alerts through the extension branch (.viminfo with extension "gz")',
      event: file('.viminfo', 'gz', '/root/.viminfo'),
      expected: true,
    },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: file.extension list', () => {
  const cases: Case[] = [
    ...['in', 'out', 'ini', 'h', 'gz', 'so', 'sock', 'sync', '0', '5', '9'].map(
      (ext): Case => ({ name: `extension "${ext}"`, event: file(`sshd-log.${ext}`, ext, `/var/tmp/sshd-log.${ext}`), expected: true }),
    ),
    { name: 'extension "SO" (: folds case)', event: file('libpam_x.SO', 'SO', '/lib/security/libpam_x.SO'), expected: true },
    { name: 'extension "txt"', event: file('notes.txt', 'txt', '/root/notes.txt'), expected: false },
    { name: 'extension "10" (only single digits are listed)', event: file('sshd.log.10', '10', '/var/log/sshd.log.10'), expected: false },
    { name: 'extension "socket" (no prefix match: list entries are exact)', event: file('agent.socket', 'socket', '/run/agent.socket'), expected: false },
    { name: 'extension "pid"', event: file('sshd.pid', 'pid', '/run/sshd.pid'), expected: false },
    { name: 'extension 1 as a JSON number', event: file('sshd.log.1', 1, '/var/log/sshd.log.1'), expected: true },
    { name: 'extension 10 as a JSON number', event: file('sshd.log.10', 10, '/var/log/sshd.log.10'), expected: false },
    { name: 'extension ["log", "gz"] as an array: any value counts', event: file('sshd.log.gz', ['log', 'gz'], '/root/sshd.log.gz'), expected: true },
    { name: 'name ends in .so but the extension field is absent', event: file('libx.so', undefined, '/root/libx.so'), expected: false },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: file.path list', () => {
  const cases: Case[] = [
    { name: '"/usr/lib/*.so.*": libkeyutils.so.1.9 (extension field absent)', event: file('libkeyutils.so.1.9', undefined, '/usr/lib/x86_64-linux-gnu/libkeyutils.so.1.9'), expected: true },
    { name: '"/usr/lib/*.so.*": directly under /usr/lib', event: file('libselinux.so.1', undefined, '/usr/lib/libselinux.so.1'), expected: true },
    { name: '"/usr/lib/*.so.*" needs ".so." (libkeyutils.so)', event: file('libkeyutils.so', undefined, '/usr/lib/x86_64-linux-gnu/libkeyutils.so'), expected: false },
    { name: '"/usr/lib/*.so.*" is anchored at /usr/lib (/usr/lib64)', event: file('libkeyutils.so.1.9', undefined, '/usr/lib64/libkeyutils.so.1.9'), expected: false },
    { name: '"/usr/share/*"', event: file('sshd_keys', undefined, '/usr/share/zoneinfo/sshd_keys'), expected: true },
    { name: '"/usr/share/man/*"', event: file('sshd.8', undefined, '/usr/share/man/man8/sshd.8'), expected: true },
    { name: '"/usr/include/*"', event: file('ssh_cfg', undefined, '/usr/include/linux/ssh_cfg'), expected: true },
    { name: '"/usr/local/include/*"', event: file('kbd', undefined, '/usr/local/include/kbd'), expected: true },
    { name: '"/usr/local/share/*"', event: file('keys', undefined, '/usr/local/share/keys'), expected: true },
    { name: '"/usr/tmp/*"', event: file('sess', undefined, '/usr/tmp/sess'), expected: true },
    { name: '"/private/tmp/*"', event: file('sess', undefined, '/private/tmp/sess'), expected: true },
    { name: '"/private/etc/*--"', event: file('passwd--', undefined, '/private/etc/passwd--'), expected: true },
    { name: '"/private/etc/*--" needs the trailing "--"', event: file('passwd-', undefined, '/private/etc/passwd-'), expected: false },
    { name: '"/private/etc/ssh/.sshd_auth" exact (file.name made non-hidden to isolate the path)', event: file('sshd_auth', undefined, '/private/etc/ssh/.sshd_auth'), expected: true },
    { name: '"/usr/bin/ssd" exact', event: file('ssd', undefined, '/usr/bin/ssd'), expected: true },
    { name: '"/var/run/sshd/sshd.pid" exact', event: file('sshd.pid', 'pid', '/var/run/sshd/sshd.pid'), expected: true },
    { name: '"/var/run/udevd.pid" exact', event: file('udevd.pid', 'pid', '/var/run/udevd.pid'), expected: true },
    { name: '"/var/run/udev/ud.pid" exact', event: file('ud.pid', 'pid', '/var/run/udev/ud.pid'), expected: true },
    { name: 'sshd writing its normal pid file /var/run/sshd.pid', event: file('sshd.pid', 'pid', '/var/run/sshd.pid'), expected: false },
    { name: '"/private/var/lib" is exact, not a prefix', event: file('x', undefined, '/private/var/lib/x'), expected: false },
    { name: '"/usr/share/*" is anchored at the start', event: file('x', undefined, '/home/u/usr/share/x'), expected: false },
    { name: 'path in upper case: /USR/SHARE/... (: folds case)', event: file('X', undefined, '/USR/SHARE/X'), expected: true },
    { name: 'no path at all and nothing else', event: variant(file('x', undefined, '/tmp/x'), { 'file.path': undefined }), expected: false },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: the writing process', () => {
  const cases: Case[] = [
    { name: '/usr/sbin/sshd', event: defend, expected: true },
    { name: '/usr/bin/ssh', event: variant(defend, { 'process.executable': '/usr/bin/ssh', 'process.name': 'ssh' }), expected: true },
    { name: '/USR/SBIN/SSHD (: folds ASCII case)', event: variant(defend, { 'process.executable': '/USR/SBIN/SSHD' }), expected: true },
    { name: '/Usr/Bin/SSH', event: variant(defend, { 'process.executable': '/Usr/Bin/SSH' }), expected: true },
    { name: '/usr/sbin/sshd-session (OpenSSH 9.8+ per-session binary)', event: variant(defend, { 'process.executable': '/usr/sbin/sshd-session' }), expected: false },
    { name: '/usr/bin/ssh-agent', event: variant(defend, { 'process.executable': '/usr/bin/ssh-agent' }), expected: false },
    { name: '/usr/bin/vim', event: variant(defend, { 'process.executable': '/usr/bin/vim', 'process.name': 'vim' }), expected: false },
    { name: 'only process.name "sshd", no executable', event: variant(defend, { 'process.executable': undefined }), expected: false },
    { name: 'no process at all', event: variant(defend, { process: undefined }), expected: false },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: event type, category and OS', () => {
  const cases: Case[] = [
    { name: 'event.type "change" as a scalar', event: variant(defend, { 'event.type': 'change' }), expected: true },
    { name: 'event.type ["creation", "change"]', event: variant(defend, { 'event.type': ['creation', 'change'] }), expected: true },
    { name: 'event.type ["creation"] (a file creation does not fire)', event: variant(defend, { 'event.type': ['creation'], 'event.action': 'creation' }), expected: false },
    { name: 'event.type ["deletion"]', event: variant(defend, { 'event.type': ['deletion'], 'event.action': 'deletion' }), expected: false },
    { name: 'event.type ["Change"] (== is case-sensitive)', event: variant(defend, { 'event.type': ['Change'] }), expected: false },
    { name: 'FIM created (event.action ["created"], type ["creation"])', event: variant(fim, { 'event.action': ['created'], 'event.type': ['creation'] }), expected: false },
    { name: 'FIM event.action ["attributes_modified", "updated"] does not matter', event: variant(fim, { 'event.action': ['attributes_modified', 'updated'] }), expected: true },
    { name: 'event.category "file" as a scalar', event: variant(defend, { 'event.category': 'file' }), expected: true },
    { name: 'event.category ["File"] does not satisfy `file where`', event: variant(defend, { 'event.category': ['File'] }), expected: false },
    { name: 'event.category ["process"]', event: variant(defend, { 'event.category': ['process'] }), expected: false },
    { name: 'no event.category', event: variant(fim, { 'event.category': undefined }), expected: false },
    { name: 'host.os.type "macos" (even for the /private/... paths)', event: variant(file('passwd--', undefined, '/private/etc/passwd--'), { 'host.os.type': 'macos' }), expected: false },
    { name: 'host.os.type "LINUX" (== is case-sensitive)', event: variant(defend, { 'host.os.type': 'LINUX' }), expected: false },
    { name: 'no host.os.type (old 6.x Auditbeat / 2020 Defend schema)', event: variant(fim, { 'host.os.type': undefined }), expected: false },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: dotted keys', () => {
  const flat: Event = {
    '@timestamp': '2024-05-14T09:31:17.547Z',
    'agent.type': 'auditbeat',
    'agent.version': '8.11.1',
    'host.os.type': 'linux',
    'event.category': ['file'],
    'event.type': ['change'],
    'event.action': ['updated'],
    'event.module': 'file_integrity',
    'process.executable': '/usr/sbin/sshd',
    'file.path': '/var/run/nscd/ns.pid',
    'file.name': 'ns.pid',
    'file.extension': 'pid',
  };
  const cases: Case[] = [
    { name: 'fully flattened FIM document', event: flat, expected: true },
    { name: 'fully flattened, path not listed', event: { ...flat, 'file.path': '/var/run/nscd/nscd.pid' }, expected: false },
    {
      name: '{"host.os": {"type": ...}} and {"file": {"name": ...}} nesting',
      event: {
        '@timestamp': '2024-05-14T09:20:03.118Z',
        'host.os': { type: 'linux' },
        event: { category: ['file'], type: ['change'] },
        process: { executable: '/usr/bin/ssh' },
        file: { name: '.ssh_session', path: '/tmp/.ssh_session' },
      },
      expected: true,
    },
    {
      name: '{"file.name"} dotted key holding an excluded name',
      event: { ...variant(defend, { 'file.name': undefined }), 'file.name': '.bash_history' },
      expected: false,
    },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('ssh backdoor rule: routing real event shapes', () => {
  const router = new RuleRouter([opensslRule(), rule]);
  it.each(routingShapes())('$name → ssh rule applies: $ssh', ({ event, defaultIndex, index, ssh }) => {
    expect(eventIndex(event, defaultIndex)).toBe(index);
    expect(router.rulesFor(index).some((r) => r.id === SSH_RULE_ID)).toBe(ssh);
  });

  it('end to end: the standalone Auditbeat FIM event alerts on the ssh rule; the openssl rule does not apply to it', () => {
    const rules = [opensslRule(), rule];
    expect(router.rulesFor(eventIndex(fim)).map((r) => r.id)).toEqual([SSH_RULE_ID]);
    expect(detect(rules, fim)).toEqual([SSH_RULE_ID]);
  });

  it('end to end: Defend, SentinelOne and Endgame file events alert on the ssh rule only', () => {
    const rules = [opensslRule(), rule];
    const endgameFile = variant(fixture('endgame-linux-exec-openssl'), {
      'event.action': 'file_rename_event',
      'event.category': ['file'],
      'event.type': ['change'],
      process: { pid: 988, name: 'sshd', executable: '/usr/sbin/sshd' },
      file: { name: 'ns.pid', extension: 'pid', path: '/var/run/nscd/ns.pid' },
    });
    expect(detect(rules, defend)).toEqual([SSH_RULE_ID]);
    expect(detect(rules, s1)).toEqual([SSH_RULE_ID]);
    expect(detect(rules, endgameFile)).toEqual([SSH_RULE_ID]);
  });

  it('end to end: the same FIM update shipped by the Fleet FIM integration (logs-fim.event-*) is not checked', () => {
    const fleetFim = variant(fim, { data_stream: { dataset: 'fim.event', namespace: 'ep', type: 'logs' } });
    expect(matches(fleetFim)).toBe(true);
    expect(detect([opensslRule(), rule], fleetFim)).toEqual([]);
  });

  it('routes between both shipped rules', () => {
    expect(router.rules.map((r) => r.id)).toEqual([OPENSSL_RULE_ID, SSH_RULE_ID]);
  });
});
