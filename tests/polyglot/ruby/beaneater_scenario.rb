# The polyglot scenario through beaneater (Debian's ruby-beaneater):
#   ruby beaneater_scenario.rb HOST PORT MAX_JOB_SIZE
# Prints one "ok NAME: VALUE" line per check and "PASS N" at the end; exits 1 at the first failed check.
# beaneater raises the server's error word as a class (Beaneater::TimedOutError, NotFoundError,
# JobTooBigError); jobs.find answers nil for a missing job. Stats keys come back with '_' for '-'.
require 'beaneater'

host, port, max_size = ARGV[0], ARGV[1], Integer(ARGV[2])
$count = 0

def check(name, got, want)
  if got.to_s != want.to_s
    puts "FAIL #{name}: got #{got.to_s.inspect}, want #{want.to_s.inspect}"
    exit 1
  end
  $count += 1
  puts "ok #{name}: #{got}"
end

def error_of
  yield
  'no error'
rescue Beaneater::UnexpectedResponse => e
  e.status
end

def binary_body
  "a\r\nb\x00c\r\n\r\n".b + "\x00\xff\x80\r\n\x00".b
end

def sized_body(n)
  (0...n).map { |i| ((i * 7 + 3) % 256).chr }.join.b
end

c = Beaneater.new("#{host}:#{port}")
c.tubes.use('poly')
check('use', c.tubes.last_used, 'poly')
check('list-tube-used', c.tubes.used.name, 'poly')
tube = c.tubes.find('poly')
a = tube.put('hello', pri: 10, delay: 0, ttr: 30)[:id]
d = tube.put('later', pri: 5, delay: 100, ttr: 7)[:id]
check('ids', "#{a},#{d}", '1,2')
s = c.jobs.find(a).stats
check('stats-job a', [s.tube, s.state, s.pri, s.ttr].join(','), 'poly,ready,10,30')
s = c.jobs.find(d).stats
check('stats-job d', [s.state, s.pri, s.delay, s.ttr].join(','), 'delayed,5,100,7')
check('peek-ready', tube.peek(:ready).id, a)
check('peek-delayed', tube.peek(:delayed).id, d)
check('peek', c.jobs.find(a).body, 'hello')
c.tubes.watch('poly')
check('watch', c.tubes.watched.size, 2)
c.tubes.ignore('default')
check('ignore', c.tubes.watched.size, 1)
check('list-tubes-watched', c.tubes.watched.map(&:name).join(','), 'poly')

job = c.tubes.reserve
check('reserve', "#{job.id},#{job.body}", "#{a},hello")
check('stats-job reserved', job.stats.state, 'reserved')
job.touch
check('touch', 'TOUCHED', 'TOUCHED')
job.release(pri: 20, delay: 0)
s = job.stats
check('release', [s.state, s.pri, s.releases].join(','), 'ready,20,1')
job = c.tubes.reserve(0)
check('reserve-with-timeout', job.id, a)
job.bury(pri: 30)
s = job.stats
check('bury', [s.state, s.pri, s.buries].join(','), 'buried,30,1')
check('peek-buried', tube.peek(:buried).id, a)
check('kick', tube.kick(1)[:id], 1)
check('kicked state', job.stats.state, 'ready')
c.tubes.reserve.bury(pri: 30)
job.kick
s = job.stats
check('kick-job', [s.state, s.kicks].join(','), 'ready,2')
job = c.tubes.reserve(0)
job.delete
check('delete', job.id, a)
check('timed out', error_of { c.tubes.reserve(0) }, 'TIMED_OUT')
check('peek deleted', error_of { c.connection.transmit("peek #{a}") }, 'NOT_FOUND')

lo = tube.put('low', pri: 100)[:id]
hi = tube.put('high', pri: 1)[:id]
check('priority order', c.tubes.reserve.id, hi)
c.jobs.find(hi).delete
c.tubes.reserve.delete
check('deleted in order', lo, Integer(hi) - 1)

bin = binary_body
b = tube.put(bin)[:id]
job = c.tubes.reserve
check('binary body', "#{job.id},#{job.body.b == bin ? 0 : 1}", "#{b},0")
job.delete
big = sized_body(max_size)
m = tube.put(big)[:id]
job = c.tubes.reserve
check('body at the limit', "#{job.id},#{job.body.bytesize},#{job.body.b == big ? 0 : 1}", "#{m},#{max_size},0")
job.delete
check('body over the limit', error_of { tube.put(sized_body(max_size + 1)) }, 'JOB_TOO_BIG')

s = c.stats
check('stats', [s.max_job_size, s.current_jobs_delayed, s.current_tubes, s.total_jobs].join(','),
      "#{max_size},1,2,6")
s = tube.stats
check('stats-tube', [s.name, s.current_jobs_delayed, s.total_jobs, s.current_watching].join(','), 'poly,1,6,1')
check('list-tubes', c.tubes.all.map(&:name).sort.join(','), 'default,poly')
check('pause-tube', tube.pause(1)[:status], 'PAUSED')
check('paused', tube.stats.pause, 1)
check('unpause', tube.pause(0)[:status], 'PAUSED')
check('pause-tube missing', error_of { c.tubes.find('nosuch').pause(0) }, 'NOT_FOUND')
c.jobs.find(d).delete
check('empty', c.stats.current_jobs_delayed, 0)
c.close
puts "PASS #{$count}"
