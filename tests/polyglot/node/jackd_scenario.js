// The polyglot scenario through jackd (npm): node jackd_scenario.js HOST PORT MAX_JOB_SIZE
// Prints one "ok NAME: VALUE" line per check and "PASS N" at the end; exits 1 at the first failed check.
// jackd 2.2.2 quirks worked around here (all through the library's own createCommandHandler):
//  * pauseTube() writes "pause-tube T N" without CRLF, so the server never answers it;
//  * put() JSON-encodes a Buffer payload, so a body with bytes >= 0x80 cannot be put through it;
//  * kick(0) fails its own assert, and stats()/statsJob() return the YAML text unparsed.
'use strict';
const Jackd = require('jackd');
const { check, yaml, binaryBody, sizedBody, done, fail } = require('./checks');

const [host, port, maxSize] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];

async function rejects(promise) {
  try { await promise; } catch (err) { return String(err.message).split(/\s/)[0]; }
  return 'no error';
}

async function main() {
  const c = new Jackd();
  await c.connect({ host, port });
  const raw = (line, handlers) => c.createCommandHandler(() => line, handlers)();
  const putHandler = async (buffer) => {
    const ascii = buffer.toString('ascii');
    if (ascii.startsWith('INSERTED ')) return ascii.split(' ')[1];
    throw new Error(ascii);
  };
  const putBuffer = (body, pri = 0, delay = 0, ttr = 60) => raw(
    Buffer.concat([Buffer.from(`put ${pri} ${delay} ${ttr} ${body.length}\r\n`), body, Buffer.from('\r\n')]),
    [putHandler]);
  const lineHandler = async (buffer) => buffer.toString('ascii');

  check('use', await c.use('poly'), 'poly');
  check('list-tube-used', await c.listTubeUsed(), 'poly');
  const a = await c.put('hello', { priority: 10, delay: 0, ttr: 30 });
  const d = await c.put('later', { priority: 5, delay: 100, ttr: 7 });
  check('ids', [a, d].join(','), '1,2');
  let s = yaml(await c.statsJob(a));
  check('stats-job a', [s.tube, s.state, s.pri, s.ttr].join(','), 'poly,ready,10,30');
  s = yaml(await c.statsJob(d));
  check('stats-job d', [s.state, s.pri, s.delay, s.ttr].join(','), 'delayed,5,100,7');
  check('peek-ready', (await c.peekReady()).id, a);
  check('peek-delayed', (await c.peekDelayed()).id, d);
  check('peek', (await c.peek(a)).payload.toString(), 'hello');
  check('watch', await c.watch('poly'), 2);
  check('ignore', await c.ignore('default'), 1);
  check('list-tubes-watched', yaml(await c.listTubesWatched()).list.join(','), 'poly');

  let job = await c.reserve();
  check('reserve', [job.id, job.payload.toString()].join(','), `${a},hello`);
  check('stats-job reserved', yaml(await c.statsJob(a)).state, 'reserved');
  await c.touch(a);
  check('touch', 'TOUCHED', 'TOUCHED');
  await c.release(a, { priority: 20, delay: 0 });
  s = yaml(await c.statsJob(a));
  check('release', [s.state, s.pri, s.releases].join(','), 'ready,20,1');
  job = await c.reserveWithTimeout(0);
  check('reserve-with-timeout', job.id, a);
  await c.bury(a, 30);
  s = yaml(await c.statsJob(a));
  check('bury', [s.state, s.pri, s.buries].join(','), 'buried,30,1');
  check('peek-buried', (await c.peekBuried()).id, a);
  check('kick', await c.kick(1), 1);
  check('kicked state', yaml(await c.statsJob(a)).state, 'ready');
  await c.bury((await c.reserve()).id, 30);
  await c.kickJob(a);
  s = yaml(await c.statsJob(a));
  check('kick-job', [s.state, s.kicks].join(','), 'ready,2');
  job = await c.reserveWithTimeout(0);
  await c.delete(job.id);
  check('delete', job.id, a);
  check('timed out', await rejects(c.reserveWithTimeout(0)), 'TIMED_OUT');
  check('peek deleted', await rejects(c.peek(a)), 'NOT_FOUND');

  const lo = await c.put('low', { priority: 100 });
  const hi = await c.put('high', { priority: 1 });
  check('priority order', (await c.reserve()).id, hi);
  await c.delete(hi);
  await c.delete((await c.reserve()).id);
  check('deleted in order', lo, String(Number(hi) - 1));

  const bin = binaryBody();
  const b = await putBuffer(bin);
  job = await c.reserve();
  check('binary body', [job.id, Buffer.compare(job.payload, bin)].join(','), `${b},0`);
  await c.delete(b);
  const big = sizedBody(maxSize);
  const m = await putBuffer(big);
  job = await c.reserve();
  check('body at the limit', [job.id, job.payload.length, Buffer.compare(job.payload, big)].join(','),
    `${m},${maxSize},0`);
  await c.delete(m);
  check('body over the limit', await rejects(putBuffer(sizedBody(maxSize + 1))), 'JOB_TOO_BIG');

  s = yaml(await c.stats());
  check('stats', [s['max-job-size'], s['current-jobs-delayed'], s['current-tubes'], s['total-jobs']].join(','),
    `${maxSize},1,2,6`);
  s = yaml(await c.statsTube('poly'));
  check('stats-tube', [s.name, s['current-jobs-delayed'], s['total-jobs'], s['current-watching']].join(','),
    'poly,1,6,1');
  check('list-tubes', yaml(await c.listTubes()).list.sort().join(','), 'default,poly');
  check('pause-tube', await raw(Buffer.from('pause-tube poly 1\r\n'), [lineHandler]), 'PAUSED');
  check('paused', yaml(await c.statsTube('poly')).pause, 1);
  check('unpause', await raw(Buffer.from('pause-tube poly 0\r\n'), [lineHandler]), 'PAUSED');
  check('pause-tube missing', await raw(Buffer.from('pause-tube nosuch 0\r\n'), [lineHandler]), 'NOT_FOUND');
  await c.delete(d);
  check('empty', yaml(await c.stats())['current-jobs-delayed'], 0);
  await c.quit();
  done();
}

main().catch(fail);
