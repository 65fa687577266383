// A background worker that logs what it does: a line every two seconds, a warning now and then.
let n = 0;
console.log('worker started');
setInterval(() => {
  n++;
  if (n % 5 === 0) console.log(`WARNING queue is getting long (job ${n})`);
  else console.log(`processed job ${n}`);
}, 2000);
process.on('SIGTERM', () => { console.log(`stopping after ${n} jobs`); process.exit(0); });
