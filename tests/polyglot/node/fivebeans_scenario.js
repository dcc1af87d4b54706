// The polyglot scenario through fivebeans (npm): node fivebeans_scenario.js HOST PORT MAX_JOB_SIZE
// Prints one "ok NAME: VALUE" line per check and "PASS N" at the end; exits 1 at the first failed check.
// fivebeans is callback style (callback(err, ...results)); each command is wrapped in a Promise here.
// Its errors are the server's reply word ('NOT_FOUND', 'TIMED_OUT', 'JOB_TOO_BIG').
'use strict';
const fivebeans = require('fivebeans');
const { check, binaryBody, sizedBody, done, fail } = require('./checks');

const [host, port, maxSize] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];

function call(client, name, ...args) {
  return new Promise((resolve, reject) => {
    client[name](...args, (err, ...results) => (err ? reject(new Error(String(err))) : resolve(results)));
  });
}

async function errorOf(promise) {
  try { await promise; } catch (err) { return err.message; }
  return 'no error';
}

async function main() {
  const client = new fivebeans.client(host, port);
  await new Promise((resolve, reject) => {
    client.once('connect', resolve).once('error', reject);
    client.connect();
  });
  const c = (name, ...args) => call(client, name, ...args);
  const one = async (name, ...args) => (await c(name, ...args))[0];

  check('use', await one('use', 'poly'), 'poly');
  check('list-tube-used', await one('list_tube_used'), 'poly');
  const a = await one('put', 10, 0, 30, 'hello');
  const d = await one('put', 5, 100, 7, 'later');
  check('ids', [a, d].join(','), '1,2');
  let s = await one('stats_job', a);
  check('stats-job a', [s.tube, s.state, s.pri, s.ttr].join(','), 'poly,ready,10,30');
  s = await one('stats_job', d);
  check('stats-job d', [s.state, s.pri, s.delay, s.ttr].join(','), 'delayed,5,100,7');
  check('peek-ready', await one('peek_ready'), a);
  check('peek-delayed', await one('peek_delayed'), d);
  check('peek', (await c('peek', a))[1].toString(), 'hello');
  check('watch', await one('watch', 'poly'), 2);
  check('ignore', await one('ignore', 'default'), 1);
  check('list-tubes-watched', (await one('list_tubes_watched')).join(','), 'poly');

  let [id, body] = await c('reserve');
  check('reserve', [id, body.toString()].join(','), `${a},hello`);
  check('stats-job reserved', (await one('stats_job', a)).state, 'reserved');
  await c('touch', a);
  check('touch', 'TOUCHED', 'TOUCHED');
  await c('release', a, 20, 0);
  s = await one('stats_job', a);
  check('release', [s.state, s.pri, s.releases].join(','), 'ready,20,1');
  [id] = await c('reserve_with_timeout', 0);
  check('reserve-with-timeout', id, a);
  await c('bury', a, 30);
  s = await one('stats_job', a);
  check('bury', [s.state, s.pri, s.buries].join(','), 'buried,30,1');
  check('peek-buried', await one('peek_buried'), a);
  check('kick', await one('kick', 1), 1);
  check('kicked state', (await one('stats_job', a)).state, 'ready');
  await c('bury', await one('reserve'), 30);
  await c('kick_job', a);
  s = await one('stats_job', a);
  check('kick-job', [s.state, s.kicks].join(','), 'ready,2');
  [id] = await c('reserve_with_timeout', 0);
  await c('destroy', id);
  check('delete', id, a);
  check('timed out', await errorOf(c('reserve_with_timeout', 0)), 'TIMED_OUT');
  check('peek deleted', await errorOf(c('peek', a)), 'NOT_FOUND');

  const lo = await one('put', 100, 0, 60, 'low');
  const hi = await one('put', 1, 0, 60, 'high');
  check('priority order', await one('reserve'), hi);
  await c('destroy', hi);
  await c('destroy', await one('reserve'));
  check('deleted in order', lo, String(Number(hi) - 1));

  const bin = binaryBody();
  const b = await one('put', 0, 0, 60, bin);
  [id, body] = await c('reserve');
  check('binary body', [id, Buffer.compare(body, bin)].join(','), `${b},0`);
  await c('destroy', b);
  const big = sizedBody(maxSize);
  const m = await one('put', 0, 0, 60, big);
  [id, body] = await c('reserve');
  check('body at the limit', [id, body.length, Buffer.compare(body, big)].join(','), `${m},${maxSize},0`);
  await c('destroy', m);
  check('body over the limit', await errorOf(c('put', 0, 0, 60, sizedBody(maxSize + 1))), 'JOB_TOO_BIG');

  s = await one('stats');
  check('stats', [s['max-job-size'], s['current-jobs-delayed'], s['current-tubes'], s['total-jobs']].join(','),
    `${maxSize},1,2,6`);
  s = await one('stats_tube', 'poly');
  check('stats-tube', [s.name, s['current-jobs-delayed'], s['total-jobs'], s['current-watching']].join(','),
    'poly,1,6,1');
  check('list-tubes', (await one('list_tubes')).sort().join(','), 'default,poly');
  await c('pause_tube', 'poly', 1);
  check('pause-tube', 'PAUSED', 'PAUSED');
  check('paused', (await one('stats_tube', 'poly')).pause, 1);
  await c('pause_tube', 'poly', 0);
  check('unpause', 'PAUSED', 'PAUSED');
  check('pause-tube missing', await errorOf(c('pause_tube', 'nosuch', 0)), 'NOT_FOUND');
  await c('destroy', d);
  check('empty', (await one('stats'))['current-jobs-delayed'], 0);
  client.end();
  done();
}

main().catch(fail);
