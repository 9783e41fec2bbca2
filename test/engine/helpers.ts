import { compileQuery, type CompileOptions, type Event } from '../../lambda/engine/index.js';

/** Does `query` match `event`? */
export function m(query: string, event: Event, options?: CompileOptions): boolean {
  return compileQuery(query, options).matches(event);
}

/** Does the condition (after `any where`) match the event? */
export function w(condition: string, event: Event): boolean {
  return m(`any where ${condition}`, event);
}
