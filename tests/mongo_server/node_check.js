// Checks the npm `mongodb` driver (6.x) against the test server: CRUD, cursor batches,
// aggregate, findOneAndUpdate, duplicate key, serverStatus.  Prints one JSON line.
// Usage: NODE_PATH=/dir/with/node_modules node node_check.js PORT ["&compressors=zlib"]
const assert = require("assert");
const { MongoClient } = require("mongodb");
(async () => {
  const port = process.argv[2];
  const c = new MongoClient(`mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=3000` +
                            (process.argv[3] || ""));
  await c.connect();
  const coll = c.db("node").collection("c" + Date.now());
  await coll.insertMany([...Array(150).keys()].map(i => ({ _id: i, v: i * 2 })));
  assert.deepStrictEqual(await coll.findOne({ _id: 7 }), { _id: 7, v: 14 });
  const all = await coll.find({ v: { $gte: 10 } }).batchSize(40).toArray();
  assert.strictEqual(all.length, 145);
  assert.strictEqual((await coll.updateOne({ _id: 1 }, { $set: { x: 1 } })).modifiedCount, 1);
  const agg = await coll.aggregate([{ $group: { _id: null, n: { $sum: 1 } } }]).toArray();
  assert.strictEqual(agg[0].n, 150);
  assert.strictEqual(await coll.countDocuments({}), 150);
  const fam = await coll.findOneAndUpdate({ _id: 2 }, { $inc: { v: 1 } },
                                          { returnDocument: "after" });
  assert.strictEqual((fam.value !== undefined && fam.ok !== undefined ? fam.value : fam).v, 5);
  let dup = null;
  try { await coll.insertOne({ _id: 1 }); } catch (e) { dup = e.code; }
  assert.strictEqual(dup, 11000);
  const ss = await c.db("admin").command({ serverStatus: 1 });
  console.log(JSON.stringify({ ok: true, command: ss.opcounters.command,
                               compressedRequests: ss.tierprobeTest.compressedRequests }));
  await c.close();
})().catch(e => { console.error("FAIL", e); process.exit(1); });
