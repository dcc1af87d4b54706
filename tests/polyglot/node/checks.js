// Shared by the Node scenarios: checks that print what they saw, a tiny YAML reader for beanstalkd's
// flat stats and lists, and the two test bodies (the same bytes as in the PHP and Ruby scenarios).
'use strict';
let count = 0;

function check(name, got, want) {
  if (String(got) !== String(want)) {
    console.log(`FAIL ${name}: got ${JSON.stringify(String(got))}, want ${JSON.stringify(String(want))}`);
    process.exit(1);
  }
  count += 1;
  console.log(`ok ${name}: ${String(got)}`);
}

// beanstalkd's YAML: "---" then "key: value" rows (a mapping) or "- item" rows (a list).
function yaml(text) {
  const out = { list: [] };
  for (const row of String(text).split('\n').slice(1)) {
    if (row.startsWith('- ')) out.list.push(row.slice(2));
    else if (row.includes(': ')) {
      const at = row.indexOf(': ');
      const value = row.slice(at + 2);
      out[row.slice(0, at)] = /^-?\d+$/.test(value) ? Number(value) : value.replace(/^"(.*)"$/, '$1');
    }
  }
  return out;
}

function binaryBody() {
  return Buffer.concat([Buffer.from('a\r\nb\x00c\r\n\r\n'), Buffer.from([0, 255, 128, 13, 10, 0])]);
}

function sizedBody(n) {
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = (i * 7 + 3) % 256;
  return body;
}

function done() {
  console.log(`PASS ${count}`);
}

function fail(err) {
  console.log(`FAIL exception: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

module.exports = { check, yaml, binaryBody, sizedBody, done, fail };
