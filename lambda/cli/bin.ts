import { main, processOutput } from './main.js';

// The AWS SDK warns that its releases after January 2027 need Node.js 22: noise in a
// command's output (eqlambda supports Node.js 20). Its own switch turns that warning off.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const io = processOutput();
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `eqlambda ... | head` closed the pipe: not an error, but an input that failed before still is.
  if (err.code === 'EPIPE') process.exit(io.anyInputFailed() ? 1 : 0);
  process.stderr.write(`eqlambda: cannot write output: ${err.code ?? err.message}\n`);
  process.exit(1);
});
// stderr closed (`2>&- `, a reader that went away): the alerts on stdout still matter, and
// there is nowhere left to report it.
process.stderr.on('error', () => {});
const code = await main(process.argv.slice(2), io);
await io.flush();
process.exitCode = code;
