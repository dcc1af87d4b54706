<?php
// The polyglot scenario through pheanstalk 4 (Debian's php-pda-pheanstalk):
//   php pheanstalk_scenario.php HOST PORT MAX_JOB_SIZE
// Prints one "ok NAME: VALUE" line per check and "PASS N" at the end; exits 1 at the first failed check.
// pheanstalk answers TIMED_OUT with null (reserveWithTimeout) and NOT_FOUND with an exception (peek)
// or null (peekReady and friends); both are printed as the server's word so the outputs line up.
declare(strict_types=1);
require_once 'Pheanstalk/autoload.php';

use Pheanstalk\JobId;
use Pheanstalk\Pheanstalk;

[$host, $port, $maxSize] = [$argv[1], (int) $argv[2], (int) $argv[3]];
$count = 0;

function check(string $name, $got, $want): void
{
    global $count;
    if ((string) $got !== (string) $want) {
        echo "FAIL $name: got " . json_encode((string) $got) . ', want ' . json_encode((string) $want) . "\n";
        exit(1);
    }
    $count++;
    echo "ok $name: $got\n";
}

function errorOf(callable $f): string
{
    try {
        $f();
    } catch (\Pheanstalk\Exception\JobNotFoundException $e) {
        return 'NOT_FOUND';
    } catch (\Pheanstalk\Exception\JobTooBigException $e) {
        return 'JOB_TOO_BIG';
    } catch (\Pheanstalk\Exception\ServerException $e) {
        return explode(':', $e->getMessage())[0];  // pause-tube's NOT_FOUND is a plain ServerException
    }
    return 'no error';
}

function binaryBody(): string
{
    return "a\r\nb\x00c\r\n\r\n" . "\x00\xff\x80\r\n\x00";
}

function sizedBody(int $n): string
{
    $body = '';
    for ($i = 0; $i < $n; $i++) {
        $body .= chr(($i * 7 + 3) % 256);
    }
    return $body;
}

$c = Pheanstalk::create($host, $port);
$c->useTube('poly');
check('use', $c->listTubeUsed(true), 'poly');
check('list-tube-used', $c->listTubeUsed(true), 'poly');
$a = $c->put('hello', 10, 0, 30)->getId();
$d = $c->put('later', 5, 100, 7)->getId();
check('ids', "$a,$d", '1,2');
$s = $c->statsJob(new JobId($a));
check('stats-job a', "{$s['tube']},{$s['state']},{$s['pri']},{$s['ttr']}", 'poly,ready,10,30');
$s = $c->statsJob(new JobId($d));
check('stats-job d', "{$s['state']},{$s['pri']},{$s['delay']},{$s['ttr']}", 'delayed,5,100,7');
check('peek-ready', $c->peekReady()->getId(), $a);
check('peek-delayed', $c->peekDelayed()->getId(), $d);
check('peek', $c->peek(new JobId($a))->getData(), 'hello');
$c->watch('poly');
check('watch', count($c->listTubesWatched(true)), 2);
$c->ignore('default');
check('ignore', count($c->listTubesWatched(true)), 1);
check('list-tubes-watched', implode(',', $c->listTubesWatched(true)), 'poly');

$job = $c->reserve();
check('reserve', $job->getId() . ',' . $job->getData(), "$a,hello");
check('stats-job reserved', $c->statsJob($job)['state'], 'reserved');
$c->touch($job);
check('touch', 'TOUCHED', 'TOUCHED');
$c->release($job, 20, 0);
$s = $c->statsJob($job);
check('release', "{$s['state']},{$s['pri']},{$s['releases']}", 'ready,20,1');
$job = $c->reserveWithTimeout(0);
check('reserve-with-timeout', $job->getId(), $a);
$c->bury($job, 30);
$s = $c->statsJob($job);
check('bury', "{$s['state']},{$s['pri']},{$s['buries']}", 'buried,30,1');
check('peek-buried', $c->peekBuried()->getId(), $a);
check('kick', $c->kick(1), 1);
check('kicked state', $c->statsJob($job)['state'], 'ready');
$c->bury($c->reserve(), 30);
$c->kickJob($job);
$s = $c->statsJob($job);
check('kick-job', "{$s['state']},{$s['kicks']}", 'ready,2');
$job = $c->reserveWithTimeout(0);
$c->delete($job);
check('delete', $job->getId(), $a);
check('timed out', $c->reserveWithTimeout(0) === null ? 'TIMED_OUT' : 'a job', 'TIMED_OUT');
check('peek deleted', errorOf(fn () => $c->peek(new JobId($a))), 'NOT_FOUND');

$lo = $c->put('low', 100)->getId();
$hi = $c->put('high', 1)->getId();
check('priority order', $c->reserve()->getId(), $hi);
$c->delete(new JobId($hi));
$c->delete($c->reserve());
check('deleted in order', $lo, $hi - 1);

$bin = binaryBody();
$b = $c->put($bin)->getId();
$job = $c->reserve();
check('binary body', $job->getId() . ',' . ($job->getData() === $bin ? 0 : 1), "$b,0");
$c->delete($job);
$big = sizedBody($maxSize);
$m = $c->put($big)->getId();
$job = $c->reserve();
check('body at the limit', $job->getId() . ',' . strlen($job->getData()) . ',' . ($job->getData() === $big ? 0 : 1),
    "$m,$maxSize,0");
$c->delete($job);
check('body over the limit', errorOf(fn () => $c->put(sizedBody($maxSize + 1))), 'JOB_TOO_BIG');

$s = $c->stats();
check('stats', "{$s['max-job-size']},{$s['current-jobs-delayed']},{$s['current-tubes']},{$s['total-jobs']}",
    "$maxSize,1,2,6");
$s = $c->statsTube('poly');
check('stats-tube', "{$s['name']},{$s['current-jobs-delayed']},{$s['total-jobs']},{$s['current-watching']}",
    'poly,1,6,1');
$tubes = $c->listTubes();
sort($tubes);
check('list-tubes', implode(',', $tubes), 'default,poly');
$c->pauseTube('poly', 1);
check('pause-tube', 'PAUSED', 'PAUSED');
check('paused', $c->statsTube('poly')['pause'], 1);
$c->resumeTube('poly');
check('unpause', 'PAUSED', 'PAUSED');
check('pause-tube missing', errorOf(fn () => $c->pauseTube('nosuch', 0)), 'NOT_FOUND');
$c->delete(new JobId($d));
check('empty', $c->stats()['current-jobs-delayed'], 0);
echo "PASS $count\n";
