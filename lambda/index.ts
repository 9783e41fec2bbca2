/** Library entry (dist/lib.mjs): the pipeline pieces the benchmark and tools import. */
export { compileQuery } from './engine/index.js';
export { loadRules } from './rules/load.js';
export { eventIndex, RuleRouter } from './rules/routing.js';
export { PreparedRules, scan } from './scan/pipeline.js';
export { decode } from './scan/decode.js';
export { memoryReclaimer } from './handler/memory.js';
