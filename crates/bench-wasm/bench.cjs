// mqtt-proto (wasm) against mqtt-packet (the codec inside mqtt.js), in one
// Node process, decoding the same frames. Run by scripts/bench.sh.
//   node bench.cjs <dir with bench_wasm.js> <dir with node_modules>
const path = require('path');
const ours = require(path.resolve(process.argv[2], 'bench_wasm.js'));
const mqtt = require(path.resolve(process.argv[3], 'node_modules', 'mqtt-packet'));

function frame(payloadLen) {
  return mqtt.generate({
    cmd: 'publish', topic: 'sensors/greenhouse-1/temperature',
    payload: Buffer.alloc(payloadLen, 0x5a), qos: 1, messageId: 7, retain: false, dup: false,
  });
}

function rate(label, count, fn) {
  fn(Math.max(1, count / 10)); // warm up the JIT and the wasm tiers
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    fn(count);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, count / seconds);
  }
  return best;
}

function mqttPacketDecode(buf, count) {
  const parser = mqtt.parser({ protocolVersion: 4 });
  let seen = 0;
  parser.on('packet', (p) => { seen += p.payload.length; });
  parser.on('error', (e) => { throw e; });
  for (let i = 0; i < count; i++) parser.parse(buf);
  return seen;
}

const rows = [];
for (const [name, len, count] of [['publish_16B', 16, 400000], ['publish_1KiB', 1024, 200000]]) {
  const buf = frame(len);
  const batch = Buffer.concat(Array(100).fill(buf));
  const theirs = rate('mqtt-packet', count, (n) => mqttPacketDecode(buf, n));
  const inWasm = rate('mqtt-proto loop', count, (n) => ours.decode_repeatedly(buf, n, false));
  const perCall = rate('mqtt-proto per call', count, (n) => { for (let i = 0; i < n; i++) ours.decode_stream(buf, false); });
  const theirsBatch = rate('mqtt-packet batch', count / 100, (n) => mqttPacketDecode(batch, n)) * 100;
  const oursBatch = rate('mqtt-proto batch', count / 100, (n) => { for (let i = 0; i < n; i++) ours.decode_stream(batch, false); }) * 100;
  rows.push([`decode ${name}, one frame per call from JS`, perCall, theirs]);
  rows.push([`decode ${name}, 100 frames per call (a WebSocket message)`, oursBatch, theirsBatch]);
  rows.push([`decode ${name}, loop inside wasm (codec alone)`, inWasm, theirs]);
}
const fmt = (x) => `${(x / 1e6).toFixed(2)} M/s`;
console.log('| case | mqtt-proto (wasm) | mqtt-packet 9 (JS) | ratio |');
console.log('| --- | --- | --- | --- |');
for (const [label, a, b] of rows) console.log(`| ${label} | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(2)}x |`);
