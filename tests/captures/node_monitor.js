// The npm `mongodb` driver (6.x) with a 500 ms heartbeat against the test server: its server
// monitor uses the streaming protocol (an awaitable hello with exhaustAllowed, answered by
// moreToCome replies: an OP_MSG exhaust stream) while the application inserts and finds.
// Usage: NODE_PATH=/dir/with/node_modules node node_monitor.js HOST PORT
const { MongoClient } = require("mongodb");
(async () => {
  const [host, port] = process.argv.slice(2);
  const c = new MongoClient(`mongodb://${host}:${port}/?directConnection=true` +
                            "&heartbeatFrequencyMS=500&serverMonitoringMode=stream");
  await c.connect();
  const coll = c.db("node").collection("events");
  await coll.insertOne({ kind: "login", at: 1 });
  await coll.findOne({ kind: "login" });
  await new Promise(r => setTimeout(r, 1800));  // a few heartbeats of the stream
  await coll.findOne({ kind: "logout" });
  await c.close();
})().catch(e => { console.error("FAIL", e); process.exit(1); });
