/**
 * The shipped "Openssl Client or Server Activity" rule (v2), evaluated over events built
 * from real Elastic Defend / Endgame / SentinelOne shapes:
 *
 *   process where host.os.type == "linux" and event.type == "start" and
 *     event.action in ("exec", "exec_event") and process.name == "openssl" and
 *     ( (process.args == "s_client" and process.args : ("-connect", "*:*") and not process.args == "-showcerts")
 *       or (process.args == "s_server" and process.args == "-port") ) and
 *     not process.parent.executable in ("/pro/xymon/client/ext/awsXymonCheck.sh", "/opt/antidot-svc/nrpe/plugins/check_cert")
 */
import { describe, expect, it } from 'vitest';
import type { Event } from '../../lambda/engine/index.js';
import { eventIndex, RuleRouter } from '../../lambda/rules/routing.js';
import {
  detect,
  field,
  fixture,
  OPENSSL_RULE_ID,
  opensslRule,
  routingShapes,
  SSH_RULE_ID,
  sshRule,
  variant,
} from './helpers.js';

const rule = opensslRule();
const matches = (event: Event): boolean => rule.compiled.matches(event);

/** Defend exec of `openssl s_client -quiet -connect 203.0.113.7:443` from an interactive bash. */
const defend = fixture('defend-linux-process-exec-openssl');
/** Endgame exec_event of `openssl s_server -quiet -key key.pem -cert cert.pem -port 8443`. */
const endgame = fixture('endgame-linux-exec-openssl');

const args = (...rest: unknown[]): Record<string, unknown> => ({ 'process.args': ['openssl', ...rest] });

interface Case {
  name: string;
  event: Event;
  expected: boolean;
}

describe('openssl rule: the shipped file', () => {
  it('is the v2 EQL rule, with its query compiled against event.category', () => {
    expect(rule.id).toBe(OPENSSL_RULE_ID);
    expect(rule.name).toBe('Openssl Client or Server Activity');
    expect(rule.version).toBe(2);
    expect(rule.index).toEqual(['logs-endpoint.events.*', 'endgame-*']);
    expect(rule.compiled.categoryField).toBe('event.category');
    expect(rule.compiled.query.category).toBe('process');
  });

  it('fixtures hold what the cases below assume', () => {
    expect(field(defend, 'process.args')).toEqual(['openssl', 's_client', '-quiet', '-connect', '203.0.113.7:443']);
    expect(field(defend, 'event.type')).toEqual(['start']);
    expect(field(defend, 'process.parent.executable')).toBe('/bin/bash');
    expect(field(endgame, 'event.action')).toBe('exec_event');
    expect(field(endgame, 'process.args')).toContain('-port');
  });
});

describe('openssl rule: each disjunct on its own', () => {
  const cases: Case[] = [
    { name: 'Defend exec: s_client -connect host:port (fixture as recorded)', event: defend, expected: true },
    {
      name: 's_client with -connect and a host without port (only the "-connect" pattern holds)',
      event: variant(defend, args('s_client', '-connect', 'c2.example.net')),
      expected: true,
    },
    {
      name: 's_client with a positional host:port argument (only the "*:*" pattern holds)',
      event: variant(defend, args('s_client', 'c2.example.net:443')),
      expected: true,
    },
    {
      name: 's_client with an IPv6 [addr]:port argument',
      event: variant(defend, args('s_client', '[2001:db8::7]:8443')),
      expected: true,
    },
    { name: 'Endgame exec_event: s_server -port 8443 (fixture as recorded)', event: endgame, expected: true },
    {
      name: 's_server -port on a Defend exec event',
      event: variant(defend, args('s_server', '-key', 'key.pem', '-cert', 'cert.pem', '-port', '4433')),
      expected: true,
    },
    {
      name: 's_server -port with -showcerts (the -showcerts exclusion only guards s_client)',
      event: variant(defend, args('s_server', '-port', '4433', '-showcerts')),
      expected: true,
    },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('openssl rule: non-matching and excluded invocations', () => {
  const cases: Case[] = [
    {
      name: 's_client -connect host:port -showcerts (excluded)',
      event: variant(defend, args('s_client', '-showcerts', '-connect', 'www.example.com:443')),
      expected: false,
    },
    { name: 's_client with neither -connect nor host:port', event: variant(defend, args('s_client', '-help')), expected: false },
    {
      name: 's_server without -port (listening with -accept)',
      event: variant(defend, args('s_server', '-accept', '4433')),
      expected: false,
    },
    {
      name: '-port and a host:port without s_client or s_server',
      event: variant(defend, args('version', '-port', 'example.net:443')),
      expected: false,
    },
    {
      name: 'certificate work, no subcommand that opens a connection',
      event: variant(defend, args('x509', '-in', 'cert.pem', '-noout', '-text')),
      expected: false,
    },
    {
      name: 'parent /pro/xymon/client/ext/awsXymonCheck.sh (excluded)',
      event: variant(defend, { 'process.parent.executable': '/pro/xymon/client/ext/awsXymonCheck.sh' }),
      expected: false,
    },
    {
      name: 'parent /opt/antidot-svc/nrpe/plugins/check_cert (excluded)',
      event: variant(endgame, { 'process.parent.executable': '/opt/antidot-svc/nrpe/plugins/check_cert' }),
      expected: false,
    },
    {
      name: 'parent executable as an array holding an excluded value (any value counts)',
      event: variant(defend, { 'process.parent.executable': ['/bin/bash', '/opt/antidot-svc/nrpe/plugins/check_cert'] }),
      expected: false,
    },
    { name: 'a different process (curl) with the same arguments', event: variant(defend, { 'process.name': 'curl' }), expected: false },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('openssl rule: case sensitivity of ==, in, : and the category', () => {
  const cases: Case[] = [
    { name: 'process.name "OpenSSL" (== is case-sensitive)', event: variant(defend, { 'process.name': 'OpenSSL' }), expected: false },
    { name: 'process.name "OPENSSL"', event: variant(defend, { 'process.name': 'OPENSSL' }), expected: false },
    {
      name: 'subcommand "S_CLIENT" (== is case-sensitive)',
      event: variant(defend, args('S_CLIENT', '-connect', 'c2.example.net:443')),
      expected: false,
    },
    {
      name: 'flag "-CONNECT" without host:port (: is ASCII-case-insensitive)',
      event: variant(defend, args('s_client', '-CONNECT', 'c2.example.net')),
      expected: true,
    },
    {
      name: '"-SHOWCERTS" does not exclude (the exclusion uses ==)',
      event: variant(defend, args('s_client', '-SHOWCERTS', '-connect', 'c2.example.net:443')),
      expected: true,
    },
    { name: 's_server "-PORT" (== is case-sensitive)', event: variant(endgame, args('s_server', '-PORT', '8443')), expected: false },
    { name: 'event.action "EXEC" (in is case-sensitive)', event: variant(defend, { 'event.action': 'EXEC' }), expected: false },
    { name: 'event.type "Start"', event: variant(defend, { 'event.type': ['Start'] }), expected: false },
    { name: 'host.os.type "Linux"', event: variant(defend, { 'host.os.type': 'Linux' }), expected: false },
    { name: 'event.category ["Process"] does not satisfy `process where`', event: variant(defend, { 'event.category': ['Process'] }), expected: false },
    {
      name: 'excluded parent in upper case is not excluded (in is case-sensitive)',
      event: variant(defend, { 'process.parent.executable': '/OPT/ANTIDOT-SVC/NRPE/PLUGINS/CHECK_CERT' }),
      expected: true,
    },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('openssl rule: event kind, OS and category', () => {
  const cases: Case[] = [
    { name: 'event.action "fork"', event: variant(defend, { 'event.action': 'fork' }), expected: false },
    { name: 'event.action "end" with event.type ["end"]', event: variant(defend, { 'event.action': 'end', 'event.type': ['end'] }), expected: false },
    { name: 'event.action "start" (SentinelOne style)', event: variant(defend, { 'event.action': ['start'] }), expected: false },
    { name: 'event.type ["end"]', event: variant(defend, { 'event.type': ['end'] }), expected: false },
    { name: 'no event.type', event: variant(defend, { 'event.type': undefined }), expected: false },
    { name: 'no event.action', event: variant(defend, { 'event.action': undefined }), expected: false },
    { name: 'host.os.type "macos"', event: variant(defend, { 'host.os.type': 'macos' }), expected: false },
    { name: 'host.os.type "windows"', event: variant(defend, { 'host.os.type': 'windows' }), expected: false },
    { name: 'no host.os.type (old Defend schema)', event: variant(defend, { 'host.os.type': undefined }), expected: false },
    { name: 'event.category ["network"]', event: variant(defend, { 'event.category': ['network'] }), expected: false },
    { name: 'event.category ["file"]', event: variant(defend, { 'event.category': ['file'] }), expected: false },
    { name: 'no event.category', event: variant(defend, { 'event.category': undefined }), expected: false },
    {
      name: 'multi-valued event.category ["process", "network"]',
      event: variant(defend, { 'event.category': ['process', 'network'] }),
      expected: true,
    },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('openssl rule: scalars, arrays, numbers and missing fields', () => {
  const cases: Case[] = [
    { name: 'event.type "start" as a scalar', event: variant(defend, { 'event.type': 'start' }), expected: true },
    { name: 'event.type ["start"] as an array', event: variant(defend, { 'event.type': ['start'] }), expected: true },
    { name: 'event.type ["info", "start"]: any value counts', event: variant(defend, { 'event.type': ['info', 'start'] }), expected: true },
    { name: 'event.category "process" as a scalar', event: variant(defend, { 'event.category': 'process' }), expected: true },
    { name: 'event.action ["exec"] as an array (SentinelOne / FIM style)', event: variant(defend, { 'event.action': ['exec'] }), expected: true },
    { name: 'event.action ["exec_event"] as an array', event: variant(endgame, { 'event.action': ['exec_event'] }), expected: true },
    { name: 'event.action ["fork", "exec"]: any value counts', event: variant(defend, { 'event.action': ['fork', 'exec'] }), expected: true },
    { name: 'process.name ["openssl"] as an array', event: variant(defend, { 'process.name': ['openssl'] }), expected: true },
    {
      name: 'the -port value as a JSON number',
      event: variant(endgame, args('s_server', '-port', 8443)),
      expected: true,
    },
    {
      name: 'process.args as a single string, not an array',
      event: variant(defend, { 'process.args': 's_client' }),
      expected: false,
    },
    { name: 'no process.args at all', event: variant(defend, { 'process.args': undefined }), expected: false },
    { name: 'no process.parent at all: the parent exclusion does not block', event: variant(defend, { 'process.parent': undefined }), expected: true },
    { name: 'process.parent without executable', event: variant(endgame, { 'process.parent.executable': undefined }), expected: true },
    { name: 'process.parent.executable null', event: variant(defend, { 'process.parent.executable': null }), expected: true },
    { name: 'process.parent.executable []', event: variant(defend, { 'process.parent.executable': [] }), expected: true },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });
});

describe('openssl rule: dotted keys (as Elasticsearch reads them)', () => {
  const flat: Event = {
    '@timestamp': '2024-05-14T09:12:41.502Z',
    'agent.type': 'endpoint',
    'agent.version': '8.13.2',
    'data_stream.type': 'logs',
    'data_stream.dataset': 'endpoint.events.process',
    'data_stream.namespace': 'default',
    'host.os.type': 'linux',
    'event.category': ['process'],
    'event.type': ['start'],
    'event.action': 'exec',
    'process.name': 'openssl',
    'process.args': ['openssl', 's_client', '-connect', '203.0.113.7:443'],
    'process.parent.executable': '/bin/bash',
  };
  const mixed = (parentExecutable: string): Event => ({
    '@timestamp': '2024-05-14T09:12:41.502Z',
    host: { 'os.type': 'linux', name: 'ubuntu-jammy' },
    'event.category': ['process'],
    event: { type: ['start'], action: 'exec' },
    'process.name': 'openssl',
    process: {
      args: ['openssl', 's_server', '-port', '8443'],
      'parent.executable': parentExecutable,
    },
  });
  const cases: Case[] = [
    { name: 'fully flattened document', event: flat, expected: true },
    { name: 'fully flattened, excluded parent', event: { ...flat, 'process.parent.executable': '/pro/xymon/client/ext/awsXymonCheck.sh' }, expected: false },
    { name: 'mixed nesting ({"process.name"} + {"process":{"parent.executable"}}), parent /bin/sh', event: mixed('/bin/sh'), expected: true },
    { name: 'mixed nesting, excluded parent', event: mixed('/opt/antidot-svc/nrpe/plugins/check_cert'), expected: false },
  ];
  it.each(cases)('$name → $expected', ({ event, expected }) => {
    expect(matches(event)).toBe(expected);
  });

  it('a dotted key and a nested object of the same field make one multi-valued field', () => {
    const nestedBash = variant(defend, { 'process.name': 'bash' });
    expect(matches(nestedBash)).toBe(false);
    expect(matches({ ...nestedBash, 'process.name': 'openssl' })).toBe(true);
  });
});

describe('openssl rule: routing real event shapes', () => {
  const router = new RuleRouter([sshRule(), rule]);
  it('routes between both shipped rules', () => {
    expect(router.rules.map((r) => r.id)).toEqual([SSH_RULE_ID, OPENSSL_RULE_ID]);
  });
  it.each(routingShapes())('$name → openssl rule applies: $openssl', ({ event, defaultIndex, index, openssl }) => {
    expect(eventIndex(event, defaultIndex)).toBe(index);
    expect(router.rulesFor(index).some((r) => r.id === OPENSSL_RULE_ID)).toBe(openssl);
  });

  it('end to end: Defend and Endgame exec events alert on the openssl rule only', () => {
    const rules = [sshRule(), rule];
    expect(detect(rules, defend)).toEqual([OPENSSL_RULE_ID]);
    expect(detect(rules, endgame)).toEqual([OPENSSL_RULE_ID]);
  });

  it('end to end: the same exec recorded by SentinelOne is not checked by the openssl rule', () => {
    const s1 = variant(defend, {
      agent: undefined,
      data_stream: { type: 'logs', dataset: 'sentinel_one_cloud_funnel.event', namespace: 'default' },
    });
    expect(matches(s1)).toBe(true); // the query alone would match ...
    expect(detect([sshRule(), rule], s1)).toEqual([]); // ... but the rule does not read that index
    expect(detect([sshRule(), rule], variant(s1, { data_stream: undefined }))).toEqual([OPENSSL_RULE_ID]); // unrouted
  });
});
