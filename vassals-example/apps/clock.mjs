// A periodic job: prints the time every 10 seconds, reloads its greeting on SIGHUP.
let greeting = process.env.GREETING ?? 'the time is';
const tick = () => console.log(`${greeting} ${new Date().toISOString()}`);
tick();
setInterval(tick, 10_000);
process.on('SIGHUP', () => { greeting = 'after SIGHUP, the time is'; tick(); });
process.on('SIGTERM', () => process.exit(0));
