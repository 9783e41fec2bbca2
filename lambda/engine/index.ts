/**
 * eqlambda's EQL engine: single-event EQL with Elasticsearch's semantics, compiled
 * once into closures over parsed JSON events. A pure library: no I/O, no AWS.
 */
import type { Query } from './ast.js';
import { compileCondition, type Predicate } from './compile.js';
import type { Event } from './fields.js';
import type { Needs } from './needs.js';
import { parseQuery } from './parser.js';

export { EqlError } from './errors.js';
export { withFieldCache } from './fields.js';
export { scriptSearches } from './scope.js';
export type { Event, Scalar } from './fields.js';
export type { Needs } from './needs.js';
export type { Query } from './ast.js';

export const DEFAULT_CATEGORY_FIELD = 'event.category';

export interface CompileOptions {
  /** The field `process where` tests (Elasticsearch's `event_category_field`). */
  categoryField?: string;
}

export interface CompiledQuery {
  readonly source: string;
  readonly query: Query;
  readonly categoryField: string;
  /** True when the event matches. */
  readonly matches: Predicate;
  /** Literals a raw JSON line must contain to possibly match (for prefiltering). */
  readonly needs: Needs;
}

/** Parses and compiles a query. Throws EqlError (with line and column) on any problem. */
export function compileQuery(source: string, options: CompileOptions = {}): CompiledQuery {
  const categoryField = options.categoryField ?? DEFAULT_CATEGORY_FIELD;
  const query = parseQuery(source);
  const { test, needs } = compileCondition(query, categoryField, source);
  return { source, query, categoryField, matches: test, needs };
}

export function matches(source: string, event: Event, options?: CompileOptions): boolean {
  return compileQuery(source, options).matches(event);
}
