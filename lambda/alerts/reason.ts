/**
 * Elastic's alert reason sentence (Kibana's reason_formatters.ts), clauses omitted when
 * their field is absent:
 * "{event.category} event with process {process.name}, parent process {process.parent.name},
 *  file {file.name}, source {source.ip}:{source.port}, destination {destination.ip}:{destination.port},
 *  by {user.name} on {host.name} created {severity} alert {rule name}."
 * Arrays are joined with ", ". Unlike Kibana, numeric ports are printed, not dropped.
 */
import { FieldPath, type Event } from '../engine/fields.js';
import { cut } from './text.js';

const CATEGORY = FieldPath.of('event.category');
const PROCESS = FieldPath.of('process.name');
const PARENT = FieldPath.of('process.parent.name');
const FILE = FieldPath.of('file.name');
const SOURCE_IP = FieldPath.of('source.ip');
const SOURCE_PORT = FieldPath.of('source.port');
const DEST_IP = FieldPath.of('destination.ip');
const DEST_PORT = FieldPath.of('destination.port');
const USER = FieldPath.of('user.name');
const HOST = FieldPath.of('host.name');

/**
 * Characters of one field's values in the reason. Kibana's has no bound, but here every alert
 * holds its own reason: an 800 KB process.name list matched by 30 rules made 24 MB of them.
 */
export const MAX_REASON_VALUE_CHARS = 1000;

/** The field's values joined with ", " (cut at MAX_REASON_VALUE_CHARS), or undefined when absent, empty or "-". */
function text(path: FieldPath, event: Event): string | undefined {
  const values = path.values(event);
  if (values.length === 0 || (values.length === 1 && (values[0] === '-' || values[0] === ''))) return undefined;
  let out = '';
  for (const v of values) {
    out += out === '' ? String(v) : `, ${String(v)}`;
    if (out.length > MAX_REASON_VALUE_CHARS) break;
  }
  return out.length > MAX_REASON_VALUE_CHARS ? cut(out, MAX_REASON_VALUE_CHARS) : out;
}

export function buildReason(event: Event, severity: string, ruleName: string): string {
  const category = text(CATEGORY, event);
  const process = text(PROCESS, event);
  const parent = text(PARENT, event);
  const file = text(FILE, event);
  const sourceIp = text(SOURCE_IP, event);
  const sourcePort = text(SOURCE_PORT, event);
  const destIp = text(DEST_IP, event);
  const destPort = text(DEST_PORT, event);
  const user = text(USER, event);
  const host = text(HOST, event);
  const interesting = [process, parent, file, sourceIp, sourcePort, destIp, destPort].some((v) => v !== undefined);

  let out = category === undefined ? 'event' : `${category} event`;
  if (interesting) out += ' with';
  if (process !== undefined) out += ` process ${process},`;
  if (parent !== undefined) out += ` parent process ${parent},`;
  if (file !== undefined) out += ` file ${file},`;
  if (sourceIp !== undefined) out += ` source ${sourceIp}`;
  if (sourcePort !== undefined) out += `:${sourcePort},`;
  if (destIp !== undefined) out += ` destination ${destIp}`;
  if (destPort !== undefined) out += `:${destPort},`;
  if (user !== undefined) out += ` by ${user}`;
  if (host !== undefined) out += ` on ${host}`;
  return `${out} created ${severity} alert ${ruleName}.`;
}
