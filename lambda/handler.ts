/**
 * The deployed Lambda entry point. At cold start it validates the configuration and
 * compiles the rule bundle shipped next to this module (rules.json, built from rules/
 * at synth time); both fail the init with a clear message when wrong.
 */
import { readRuleBundle } from './rules/bundle.js';
import { readConfig } from './handler/config.js';
import { createHandler } from './handler/create.js';
import { functionMemoryMb, memoryReclaimer, type Gc } from './handler/memory.js';

const config = readConfig(process.env);
const rules = readRuleBundle(new URL('./rules.json', import.meta.url));

// The stack starts Node with --expose-gc (see infra/detector.ts) so a scan can return
// zlib's dead buffers when memory gets tight (handler/memory.ts).
const gc = (globalThis as { gc?: Gc }).gc;
const reclaimMemory = memoryReclaimer({ gc: gc === undefined ? undefined : (options) => gc(options), memoryMb: functionMemoryMb(process.env) });

export const handler = createHandler({ rules, config, reclaimMemory });
