/**
 * The deployed Lambda entry point. At cold start it validates the configuration and
 * compiles the rule bundle shipped next to this module (rules.json, built from rules/
 * at synth time); both fail the init with a clear message when wrong.
 */
import { readRuleBundle } from './rules/bundle.js';
import { readConfig } from './handler/config.js';
import { createHandler } from './handler/create.js';

const config = readConfig(process.env);
const rules = readRuleBundle(new URL('./rules.json', import.meta.url));

// The stack starts Node with --expose-gc (see infra/detector.ts) so a scan can return
// zlib's dead buffers promptly and stay within a 128 MB function.
const gc = (globalThis as { gc?: () => void }).gc;

export const handler = createHandler({ rules, config, reclaimMemory: gc === undefined ? undefined : () => gc() });
