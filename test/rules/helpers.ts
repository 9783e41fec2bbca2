/** Shared helpers for the rule tests: the shipped rules, fixture events and event variants. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Event } from '../../lambda/engine/index.js';
import { loadRuleFile, parseRule } from '../../lambda/rules/load.js';
import type { Rule } from '../../lambda/rules/model.js';
import { eventIndex, RuleRouter } from '../../lambda/rules/routing.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RULES_DIR = join(REPO_ROOT, 'rules');
const FIXTURES_DIR = join(REPO_ROOT, 'test', 'fixtures', 'events');

export const OPENSSL_RULE_FILE = join(RULES_DIR, 'execution_shell_openssl_client_or_server.toml');
export const SSH_RULE_FILE = join(RULES_DIR, 'credential_access_ssh_backdoor_log.toml');
export const OPENSSL_RULE_ID = 'ad5a3757-c872-4719-8c72-12d3f08db655';
export const SSH_RULE_ID = 'f28e2be4-6eca-4349-bdd9-381573730c22';

export function opensslRule(): Rule {
  return loadRuleFile(OPENSSL_RULE_FILE);
}

export function sshRule(): Rule {
  return loadRuleFile(SSH_RULE_FILE);
}

/** A minimal EQL rule around `query` (extra TOML lines, e.g. event_category_override, go in `extra`). */
export function queryRule(id: string, query: string, extra = ''): Rule {
  const lines = ['[rule]', `rule_id = "${id}"`, `name = "${id}"`, 'risk_score = 21', 'severity = "low"', 'type = "eql"', extra, `query = '''${query}'''`];
  return parseRule(lines.join('\n'), `${id}.toml`);
}

export type FixtureName =
  | 'defend-linux-process-exec-openssl'
  | 'defend-linux-file-rename-sshd'
  | 'auditbeat-fim-updated-sshd'
  | 'sentinel-one-linux-file-modification-ssh'
  | 'endgame-linux-exec-openssl';

/** A fresh copy of a fixture event from test/fixtures/events. */
export function fixture(name: FixtureName): Event {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, `${name}.json`), 'utf8')) as Event;
}

/**
 * A deep copy of `base` with nested fields set (`'process.args': [...]`); a value of
 * `undefined` removes the field. Paths always address nested objects, never dotted keys.
 */
export function variant(base: Event, changes: Record<string, unknown>): Event {
  const copy = structuredClone(base);
  for (const [path, value] of Object.entries(changes)) {
    const segments = path.split('.');
    const last = segments.pop()!;
    let node: Record<string, unknown> = copy;
    for (const segment of segments) {
      const next = node[segment];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        if (value === undefined) break;
        node[segment] = {};
      }
      node = node[segment] as Record<string, unknown>;
    }
    if (value === undefined) delete node[last];
    else node[last] = value;
  }
  return copy;
}

/** Reads a (nested) field of a fixture, for asserting a fixture is what a test assumes. */
export function field(event: Event, path: string): unknown {
  let node: unknown = event;
  for (const segment of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** The ids of the rules that apply to the event (by index) and match it, as the scanner decides. */
export function detect(rules: Rule[], event: Event, defaultIndex?: string): string[] {
  const router = new RuleRouter(rules);
  return router
    .rulesFor(eventIndex(event, defaultIndex))
    .filter((r) => r.compiled.matches(event))
    .map((r) => r.id);
}

export interface RoutingShape {
  name: string;
  event: Event;
  defaultIndex?: string;
  /** The index the event is routed by; undefined = unrouted. */
  index: string | undefined;
  /** Whether each shipped rule applies to it. */
  openssl: boolean;
  ssh: boolean;
}

/** Real event shapes and which shipped rule each one is checked by. */
export function routingShapes(): RoutingShape[] {
  const unrouted = variant(fixture('defend-linux-process-exec-openssl'), { agent: undefined, data_stream: undefined });
  return [
    {
      name: 'Elastic Defend process event (logs/endpoint.events.process/default)',
      event: fixture('defend-linux-process-exec-openssl'),
      index: 'logs-endpoint.events.process-default',
      openssl: true,
      ssh: false,
    },
    {
      name: 'Elastic Defend file event (logs/endpoint.events.file/default)',
      event: fixture('defend-linux-file-rename-sshd'),
      index: 'logs-endpoint.events.file-default',
      openssl: true, // logs-endpoint.events.* covers every Defend event data stream
      ssh: true,
    },
    {
      name: 'standalone Auditbeat FIM event (agent auditbeat 8.11.1, no data_stream)',
      event: fixture('auditbeat-fim-updated-sshd'),
      index: 'auditbeat-8.11.1',
      openssl: false,
      ssh: true,
    },
    {
      name: 'Elastic Agent FIM integration event (logs/fim.event/ep): not an auditbeat-* index',
      event: variant(fixture('auditbeat-fim-updated-sshd'), {
        data_stream: { dataset: 'fim.event', namespace: 'ep', type: 'logs' },
      }),
      index: 'logs-fim.event-ep',
      openssl: false,
      ssh: false,
    },
    {
      name: 'SentinelOne Cloud Funnel event (logs/sentinel_one_cloud_funnel.event/default)',
      event: fixture('sentinel-one-linux-file-modification-ssh'),
      index: 'logs-sentinel_one_cloud_funnel.event-default',
      openssl: false,
      ssh: true,
    },
    {
      name: 'Endgame event (agent endgame 3.63.0)',
      event: fixture('endgame-linux-exec-openssl'),
      index: 'endgame-3.63.0',
      openssl: true,
      ssh: true,
    },
    {
      name: 'Elastic Defend event written without data_stream (agent endpoint): its event.dataset names the stream',
      event: variant(fixture('defend-linux-process-exec-openssl'), { data_stream: undefined }),
      index: 'logs-endpoint.events.process-default',
      openssl: true,
      ssh: false,
    },
    { name: 'event with no routing fields (unrouted)', event: unrouted, index: undefined, openssl: true, ssh: true },
    {
      name: 'unrouted event with default index auditbeat-default',
      event: unrouted,
      defaultIndex: 'auditbeat-default',
      index: 'auditbeat-default',
      openssl: false,
      ssh: true,
    },
    {
      name: 'unrouted event with default index logs-endpoint.events.process-default',
      event: unrouted,
      defaultIndex: 'logs-endpoint.events.process-default',
      index: 'logs-endpoint.events.process-default',
      openssl: true,
      ssh: false,
    },
    {
      name: 'a default index does not override the agent fields of the event',
      event: fixture('auditbeat-fim-updated-sshd'),
      defaultIndex: 'logs-endpoint.events.process-default',
      index: 'auditbeat-8.11.1',
      openssl: false,
      ssh: true,
    },
  ];
}
