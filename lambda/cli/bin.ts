import { main, processOutput } from './main.js';

const io = processOutput();
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0); // `eqlambda ... | head` closed the pipe
  throw err;
});
const code = await main(process.argv.slice(2), io);
await io.flush();
process.exitCode = code;
