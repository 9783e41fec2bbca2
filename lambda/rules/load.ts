/**
 * Loads Elastic detection rules (detection-rules TOML: [metadata], [rule], [[rule.threat]])
 * and compiles their EQL. Every problem is a RuleError positioned at `path:line:col`,
 * including query errors, which are mapped from the query text back into the file.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, constants, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { compileQuery, DEFAULT_CATEGORY_FIELD, EqlError } from '../engine/index.js';
import { fieldNameProblem } from '../engine/fields.js';
import { RuleError, SEVERITIES, type Rule, type RuleSpec, type Severity, type Threat, type ThreatEntry } from './model.js';
import { includesAnyIndex } from './routing.js';

export interface LoadOptions {
  /** Category field for rules without `event_category_override`. */
  categoryField?: string;
}

export interface LoadResult {
  rules: Rule[];
  errors: RuleError[];
  /** Rule files read or found unreadable (a broken link named `*.toml`), in order. */
  files: string[];
  /** Entries of the folders walked that are not read: hidden, not `*.toml`, not a regular file, or a folder seen already. */
  skipped: string[];
}

/** Larger than any real rule (Elastic's largest, investigation guide included, is about 40 KB). */
const MAX_RULE_FILE_BYTES = 4 * 1024 * 1024;

/** Loads every `*.toml` under the given files and folders (recursively, sorted). */
export function loadRules(paths: string[], options: LoadOptions = {}): LoadResult {
  const result: LoadResult = { rules: [], errors: [], files: [], skipped: [] };
  const seen = new Map<string, string>();
  for (const { file, unreadable } of expandPaths(paths, result)) {
    result.files.push(file);
    try {
      if (unreadable !== undefined) throw new RuleError(file, 1, 1, unreadable);
      const rule = loadRuleFile(file, options);
      const previous = seen.get(rule.id);
      if (previous !== undefined) {
        const [line, col] = keyPosition(readAtMost(file, MAX_RULE_FILE_BYTES).toString('utf8'), 'rule_id');
        throw new RuleError(file, line, col, `duplicate rule_id ${rule.id} (also in ${previous})`);
      }
      seen.set(rule.id, file);
      result.rules.push(rule);
    } catch (err) {
      if (err instanceof RuleError) result.errors.push(err);
      else if (err instanceof RuleSkipped) result.skipped.push(`${file} (${err.message})`);
      else throw err;
    }
  }
  return result;
}

const isRuleFileName = (path: string): boolean => path.toLowerCase().endsWith('.toml');

/**
 * Whether an entry that cannot be read may have been rules: anything but a link named, and
 * pointing to, a kind of file that is not (notes.md). Folder names can hold dots
 * (detection-rules-8.14, windows.d), so any other name may have been a folder of rules.
 */
function mayHoldRules(path: string): boolean {
  let target = path;
  try {
    target = readlinkSync(path);
  } catch {
    // Not a link: its own name decides.
  }
  return ![path, target].every((p) => NOT_RULES_EXTENSIONS.has(extname(p.replace(/[/\\]+$/, '')).toLowerCase()));
}

/** Kinds of file that sit beside rules and are not rules: documents, data, scripts, editor leftovers. */
const NOT_RULES_EXTENSIONS = new Set(['.md', '.txt', '.rst', '.adoc', '.html', '.json', '.ndjson', '.yml', '.yaml', '.csv', '.py', '.sh', '.js', '.ts', '.log', '.gz', '.zip', '.lock', '.bak', '.orig', '.swp', '.tmp']);

/** A rule file that loads as nothing, on purpose (a deprecated rule). */
class RuleSkipped extends Error {}

/**
 * The rule files under `paths`: named files as they are, folders walked recursively in name
 * order for `*.toml` regular files. Each folder is walked once, so symlink loops end;
 * nothing blocks (a FIFO named `*.toml` is skipped, not opened).
 */
function expandPaths(paths: string[], result: Pick<LoadResult, 'errors' | 'skipped'>): { file: string; unreadable?: string }[] {
  const files: { file: string; unreadable?: string }[] = [];
  const walked = new Set<string>();
  const read = new Set<string>();
  const walk = (path: string, explicit: boolean): void => {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file or folder' : code === 'ELOOP' ? 'symbolic link loop' : `cannot read: ${(err as Error).message}`;
      // A broken link in a folder is a rule file that failed if it is named like one; one that
      // may have been a folder of rules is an error, not a silent loss; one named, and pointing
      // to, another kind of file (notes.md) is not ours.
      if (explicit) result.errors.push(new RuleError(path, 1, 1, reason));
      else if (isRuleFileName(path)) files.push({ file: path, unreadable: reason });
      else if (mayHoldRules(path)) result.errors.push(new RuleError(path, 1, 1, reason));
      else result.skipped.push(`${path} (${reason})`);
      return;
    }
    if (stat.isDirectory()) {
      const id = `${stat.dev}:${stat.ino}`;
      if (walked.has(id)) {
        result.skipped.push(`${path} (a folder already read, through a link)`);
        return;
      }
      walked.add(id);
      let names: string[];
      try {
        names = readdirSync(path).sort();
      } catch (err) {
        result.errors.push(new RuleError(path, 1, 1, `cannot read folder: ${(err as Error).message}`));
        return;
      }
      for (const name of names) {
        if (name.startsWith('.')) result.skipped.push(`${join(path, name)} (hidden)`);
        else walk(join(path, name), false);
      }
    } else if (!stat.isFile()) {
      if (explicit) result.errors.push(new RuleError(path, 1, 1, 'not a regular file'));
      else result.skipped.push(`${path} (not a regular file)`);
    } else if (explicit || isRuleFileName(path)) {
      // The same file named twice (a folder and a file in it, or two links) is read once.
      const id = `${stat.dev}:${stat.ino}`;
      if (read.has(id)) result.skipped.push(`${path} (a file already read)`);
      else {
        read.add(id);
        files.push({ file: path });
      }
    } else {
      result.skipped.push(`${path} (not *.toml)`);
    }
  };
  for (const p of paths) walk(p, true);
  return files;
}

/**
 * The file at `path`, read in 64 KiB pieces until it ends or `limit` bytes are in (so at most
 * 64 KiB more). Opened non-blocking, so that a file that would wait for data (/proc/kmsg) is
 * an error (EAGAIN) rather than a hang; regular files ignore it. Whole pieces: some files
 * (/proc/self/pagemap) refuse reads of odd sizes.
 */
function readAtMost(path: string, limit: number): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(64 * 1024);
    const parts: Buffer[] = [];
    let total = 0;
    while (total < limit) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
      total += n;
    }
    return Buffer.concat(parts, total);
  } finally {
    closeSync(fd);
  }
}

export function loadRuleFile(path: string, options: LoadOptions = {}): Rule {
  let bytes: Buffer;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new RuleError(path, 1, 1, 'not a regular file');
    if (stat.size > MAX_RULE_FILE_BYTES) throw new RuleError(path, 1, 1, `rule file too large: ${stat.size} bytes (the limit is ${MAX_RULE_FILE_BYTES})`);
    // It may have grown since, or report no size at all (/proc, some FUSE files): read at
    // most one byte past the limit, whatever the size said.
    bytes = readAtMost(path, MAX_RULE_FILE_BYTES + 1);
    if (bytes.length > MAX_RULE_FILE_BYTES) throw new RuleError(path, 1, 1, `rule file too large: over ${MAX_RULE_FILE_BYTES} bytes`);
  } catch (err) {
    if (err instanceof RuleError) throw err;
    throw new RuleError(path, 1, 1, `cannot read rule file: ${(err as Error).message}`);
  }
  // TOML must be UTF-8; decoding bad bytes as U+FFFD would quietly change the rule's literals.
  if (!isUtf8(bytes)) {
    const [line, col] = firstInvalidUtf8(bytes);
    throw new RuleError(path, line, col, 'invalid TOML: the file is not valid UTF-8');
  }
  return parseRule(bytes.toString('utf8'), path, options);
}

/** Line and column of the first byte that is not valid UTF-8 (the file holds one). */
function firstInvalidUtf8(bytes: Buffer): [number, number] {
  let start = 0;
  for (let line = 1; ; line++) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    const text = bytes.subarray(start, end);
    if (!isUtf8(text)) {
      // The column of the first character decoding replaced (a valid U+FFFD is unlikely in a rule).
      const at = [...text.toString('utf8')].indexOf('\ufffd');
      return [line, at + 1];
    }
    if (nl < 0) return [line, 1];
    start = nl + 1;
  }
}

/** Parses one rule document. `path` is only used in messages. */
export function parseRule(text: string, path: string, options: LoadOptions = {}): Rule {
  const spec = parseRuleSpec(text, path);
  return compileRuleSpec(spec, options, text);
}

/** Compiles a rule spec; with the TOML text, query errors are positioned in the file. */
export function compileRuleSpec(spec: RuleSpec, options: LoadOptions = {}, tomlText?: string): Rule {
  try {
    const compiled = compileQuery(spec.query, {
      categoryField: spec.event_category_override ?? options.categoryField ?? DEFAULT_CATEGORY_FIELD,
    });
    return { ...spec, compiled };
  } catch (err) {
    if (!(err instanceof EqlError)) throw err;
    const at = tomlText === undefined ? undefined : queryPositionInFile(tomlText, err.line, err.col);
    if (at !== undefined) throw new RuleError(spec.path, at.line, at.col, err.reason);
    if (tomlText === undefined) throw new RuleError(spec.path, err.line, err.col, `query: ${err.reason}`);
    // The query is not a plain `query = "..."` line (dotted or inline keys): point at its key.
    const [line, col] = keyPosition(tomlText, 'query');
    throw new RuleError(spec.path, line, col, `query, at its line ${err.line} column ${err.col}: ${err.reason}`);
  }
}

function parseRuleSpec(text: string, path: string): RuleSpec {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      throw new RuleError(path, err.line, err.column, `invalid TOML: ${err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')}`);
    }
    throw err;
  }
  const at = (key: string): [number, number] => keyPosition(text, key);
  const fail = (key: string, reason: string): never => {
    const [line, col] = at(key);
    throw new RuleError(path, line, col, reason);
  };
  // Elastic keeps deprecated rules in its repository (rules/_deprecated) but Kibana does not install them.
  const metadata = doc.metadata as Record<string, unknown> | undefined;
  if (metadata?.maturity === 'deprecated') throw new RuleSkipped('deprecated: Elastic no longer ships it');
  const rule = doc.rule;
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
    throw new RuleError(path, 1, 1, 'not a detection rule: no [rule] table');
  }
  const r = rule as Record<string, unknown>;
  const str = (key: string, required: boolean): string | undefined => {
    const v = r[key];
    if (v === undefined) return required ? fail(key, `missing required key rule.${key}`) : undefined;
    if (typeof v !== 'string') return fail(key, `rule.${key} must be a string`);
    if (required && v.trim() === '') return fail(key, `rule.${key} must not be empty`);
    return v;
  };
  const strList = (key: string): string[] | undefined => {
    const v = r[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) return fail(key, `rule.${key} must be a list of strings`);
    return v as string[];
  };
  const int = (key: string, fallback: number | undefined, min: number, max: number): number => {
    const v = r[key];
    if (v === undefined) return fallback ?? fail(key, `missing required key rule.${key}`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return fail(key, `rule.${key} must be a whole number from ${min} to ${max}`);
    }
    return v;
  };

  const type = str('type', true)!;
  if (type !== 'eql') fail('type', `unsupported rule type "${type}": eqlambda runs EQL rules (type = "eql") only`);
  const language = str('language', false);
  if (language !== undefined && language !== 'eql') fail('language', `unsupported rule language "${language}": expected "eql"`);
  const id = str('rule_id', true)!;
  const spec: RuleSpec = {
    id,
    name: str('name', true)!,
    description: str('description', false) ?? '',
    version: int('version', 1, 1, 1_000_000),
    severity: str('severity', true)!,
    risk_score: int('risk_score', undefined, 0, 100),
    tags: strList('tags') ?? [],
    references: strList('references') ?? [],
    threat: parseThreats(r.threat, (reason, index) => {
      // A bad entry is pointed at its own [[rule.threat]] table, where it has one.
      const [line, col] = (index === undefined ? undefined : nthTablePosition(text, 'rule.threat', index)) ?? at('threat');
      throw new RuleError(path, line, col, reason ?? 'rule.threat must be a list of [[rule.threat]] tables');
    }),
    index: strList('index') ?? null,
    max_signals: int('max_signals', 100, 1, 100_000),
    query: str('query', true)!,
    path,
  };
  // Read as routing reads it: a list with nothing to include would silently match no index.
  if (spec.index !== null && !includesAnyIndex(spec.index)) {
    fail('index', 'rule.index names no index pattern to search (only exclusions, or nothing)');
  }
  // Kibana applies these with the query; a rule run without them alerts where Elastic's does not.
  for (const [key, reason] of UNSUPPORTED) {
    const v = r[key];
    if (v !== undefined && (!Array.isArray(v) || v.length > 0)) fail(key, `rule.${key} is not supported: ${reason}`);
  }
  const override = str('event_category_override', false);
  if (override === '') fail('event_category_override', 'rule.event_category_override must name a field');
  const badName = override === undefined ? undefined : fieldNameProblem(override);
  if (badName !== undefined) fail('event_category_override', `rule.event_category_override: ${badName}`);
  if (override !== undefined) spec.event_category_override = override;
  const buildingBlock = str('building_block_type', false);
  if (buildingBlock !== undefined) spec.building_block_type = buildingBlock;
  if (!(SEVERITIES as readonly string[]).includes(spec.severity)) {
    fail('severity', `rule.severity must be low, medium, high or critical, not "${spec.severity}"`);
  }
  // A bad mapping entry is pointed at its own [[rule.<key>]] table, where it has one.
  const failAtEntry = (key: string, reason: string, index?: number): never => {
    const [line, col] = (index === undefined ? undefined : nthTablePosition(text, `rule.${key}`, index)) ?? at(key);
    throw new RuleError(path, line, col, reason);
  };
  Object.assign(spec, parseOverrides(r, str, failAtEntry));
  // A copy: strings cut from the TOML text may keep the whole file alive (investigation
  // guides included, about 10 KB a rule), and only these fields are needed.
  return structuredClone(spec);
}

/** Rule keys that change which events alert (or how often) in Kibana, and that eqlambda cannot honour. */
const UNSUPPORTED: [string, string][] = [
  ['filters', 'Kibana adds these query DSL filters to the query; write them into the EQL query instead'],
  ['exceptions_list', 'its exceptions live in Kibana, which eqlambda cannot read; write them into the query as `and not ...`, or remove the list to alert without them'],
  ['data_view_id', "Kibana searches the data view's index patterns instead of rule.index; list those patterns in rule.index and remove data_view_id"],
  [
    'alert_suppression',
    'Kibana turns repeated matches into one alert per group of field values over a time window; eqlambda alerts on every match (at most max_signals per object), so remove it to alert without suppression',
  ],
];

type Overrides = Pick<RuleSpec, 'rule_name_override' | 'severity_mapping' | 'risk_score_mapping'>;

/** Kibana's per-alert overrides (alerts/overrides.ts applies them), checked as Kibana's rule schema does. */
function parseOverrides(
  r: Record<string, unknown>,
  str: (key: string, required: boolean) => string | undefined,
  fail: (key: string, reason: string, index?: number) => never,
): Overrides {
  const out: Overrides = {};
  const field = (key: string, value: unknown, what: string, index?: number): string => {
    if (typeof value !== 'string' || value === '') return fail(key, `rule.${what} must name a field`, index);
    const badName = fieldNameProblem(value);
    return badName === undefined ? value : fail(key, `rule.${what}: ${badName}`, index);
  };
  const nameOverride = str('rule_name_override', false);
  if (nameOverride !== undefined) out.rule_name_override = field('rule_name_override', nameOverride, 'rule_name_override');
  const entries = (key: string): Record<string, unknown>[] | undefined => {
    const v = r[key];
    if (v === undefined) return undefined;
    const isTable = (e: unknown): e is Record<string, unknown> => typeof e === 'object' && e !== null && !Array.isArray(e);
    if (!Array.isArray(v) || !v.every(isTable)) return fail(key, `rule.${key} must be a list of tables ([[rule.${key}]])`);
    v.forEach((e, i) => {
      field(key, e.field, `${key} field`, i);
      if (e.operator !== 'equals') fail(key, `rule.${key}: operator must be "equals"`, i);
      if (typeof e.value !== 'string') fail(key, `rule.${key}: value must be a string`, i);
    });
    return v;
  };
  const severities = entries('severity_mapping');
  if (severities !== undefined && severities.length > 0) {
    out.severity_mapping = severities.map((e, i) => {
      if (!(SEVERITIES as readonly unknown[]).includes(e.severity)) fail('severity_mapping', 'rule.severity_mapping: severity must be low, medium, high or critical', i);
      return { field: e.field as string, operator: 'equals', value: e.value as string, severity: e.severity as Severity };
    });
  }
  const scores = entries('risk_score_mapping');
  if (scores !== undefined && scores.length > 0) out.risk_score_mapping = scores.map((e) => ({ field: e.field as string, operator: 'equals', value: e.value as string }));
  return out;
}

function parseThreats(value: unknown, failAt: (reason?: string, index?: number) => never): Threat[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return failAt();
  /** The threat entry being read, for the error's position. */
  let index: number | undefined;
  const fail = (reason?: string): never => failAt(reason, index);
  const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  // Alerts and their MITRE texts carry these: a missing tactic or technique id is a rule bug.
  const entry = (v: unknown, what: string): ThreatEntry => {
    if (!isTable(v) || typeof v.id !== 'string' || v.id === '' || typeof v.name !== 'string' || v.name === '') {
      return fail(`rule.threat: each ${what} needs a non-empty id and name`);
    }
    return { id: v.id, name: v.name, reference: typeof v.reference === 'string' ? v.reference : '' };
  };
  const list = (v: unknown, what: string): unknown[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return fail(`rule.threat: ${what} must be a list of tables ([[rule.threat.${what}]])`);
    return v;
  };
  return value.map((t: unknown, i) => {
    index = i;
    if (!isTable(t)) return fail();
    const threat: Threat = { framework: String(t.framework ?? 'MITRE ATT&CK'), tactic: entry(t.tactic, 'tactic') };
    const techniques = list(t.technique, 'technique');
    if (techniques !== undefined) {
      threat.technique = techniques.map((tech) => {
        const out: ThreatEntry & { subtechnique?: ThreatEntry[] } = entry(tech, 'technique');
        const subs = list((tech as Record<string, unknown>).subtechnique, 'subtechnique');
        if (subs !== undefined) out.subtechnique = subs.map((sub) => entry(sub, 'subtechnique'));
        return out;
      });
    }
    return threat;
  });
}

/** Line and column (1-based) of `key = ...` inside the [rule] table, or 1:1. */
function keyPosition(text: string, key: string): [number, number] {
  let inRule = false;
  for (const [i, line] of linesOutsideStrings(text)) {
    const header = /^\s*\[\[?([^\]]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      const table = header[1]!.trim();
      // `[[rule.filters]]`, `[rule.threat.tactic]`: the key is a table of [rule].
      if (table === `rule.${key}` || table.startsWith(`rule.${key}.`)) return [i + 1, line.indexOf('[') + 1];
      inRule = table === 'rule';
      continue;
    }
    const m = new RegExp(`^(\\s*)${key}\\s*=`).exec(line);
    if (inRule && m) return [i + 1, m[1]!.length + 1];
  }
  return [1, 1];
}

/** Line and column of the `n`th (0-based) `[[table]]` header, if the file has that many. */
function nthTablePosition(text: string, table: string, n: number): [number, number] | undefined {
  let seen = 0;
  for (const [i, line] of linesOutsideStrings(text)) {
    const header = /^\s*\[\[\s*([^\]]+?)\s*\]\]\s*(#.*)?\r?$/.exec(line);
    if (header?.[1] === table && seen++ === n) return [i + 1, line.indexOf('[') + 1];
  }
  return undefined;
}

/** The lines of a TOML text with their index, but those inside multi-line strings (a note's `[[...]]` lines are text). */
function* linesOutsideStrings(text: string): Generator<[number, string]> {
  const lines = text.split('\n');
  let inString: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (inString !== undefined) {
      if (line.includes(inString)) inString = undefined;
      continue;
    }
    yield [i, line];
    const opens = /^\s*[\w.-]+\s*=\s*('''|""")(.*)$/.exec(line);
    if (opens !== null && !opens[2]!.includes(opens[1]!)) inString = opens[1]!;
  }
}

/**
 * Maps a position in the query text back to the file: finds `query = ` in [rule] and
 * walks the TOML string, so escapes in basic strings and the newline TOML drops after
 * opening triple quotes are accounted for.
 */
function queryPositionInFile(text: string, queryLine: number, queryCol: number): { line: number; col: number } | undefined {
  const [line] = keyPosition(text, 'query');
  const lines = text.split('\n');
  const lineText = lines[line - 1];
  if (lineText === undefined) return undefined;
  const m = /^\s*query\s*=\s*('''|"""|'|")/.exec(lineText);
  if (m === null) return undefined;
  const delimiter = m[1]!;
  const literal = delimiter.startsWith("'");
  // Offset of the first character after the opening quotes.
  let offset = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + m[0].length;
  if (delimiter.length === 3 && text[offset] === '\n') offset++;
  else if (delimiter.length === 3 && text.startsWith('\r\n', offset)) offset += 2;
  // Walk the raw string, counting decoded query lines and columns, up to the target.
  let qLine = 1;
  let qCol = 1;
  let i = offset;
  while (i < text.length && (qLine < queryLine || (qLine === queryLine && qCol < queryCol))) {
    if (text.startsWith(delimiter, i)) break;
    let newline = text[i] === '\n';
    let width = 1;
    /** UTF-16 units of what the escape decodes to (the query's columns count those). */
    let units = 1;
    if (!literal && text[i] === '\\') {
      const next = text[i + 1] ?? '';
      if (next === 'u') width = 6;
      else if (next === 'U') {
        width = 10;
        if (parseInt(text.slice(i + 2, i + 10), 16) > 0xffff) units = 2;
      } else if (next === 'x') width = 4; // TOML 1.1's \xHH
      else if (/\s/.test(next)) {
        // A line-ending backslash swallows the newline and the whitespace after it.
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        i = j;
        continue;
      } else width = 2;
      newline = next === 'n';
    }
    if (newline) {
      qLine++;
      qCol = 1;
    } else {
      qCol += units;
    }
    i += width;
  }
  const before = text.slice(0, i);
  return { line: before.split('\n').length, col: i - before.lastIndexOf('\n') };
}
