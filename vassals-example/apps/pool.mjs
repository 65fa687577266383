// One member of a pool of workers: each says which member it is and heartbeats every 5 s.
const id = process.env.EMPEROR_WORKER_ID ?? process.pid;
console.log(`pool member ${id} ready`);
setInterval(() => console.log(`pool member ${id} alive`), 5000);
process.on('SIGTERM', () => process.exit(0));
