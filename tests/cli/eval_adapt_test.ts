/** Tests for the pure parts of cli/eval_adapt.ts: what is heard, what is held out, cutting. */
import assert from "node:assert/strict";
import { cutIntoClips, splitHeard } from "../../cli/eval_adapt.ts";

const clip = (name: string, seconds: number) => ({
  name,
  samples: new Float32Array(Math.round(seconds * 100)),
});

Deno.test("splitHeard takes clips in order up to the budget and always holds some out", () => {
  const clips = [7, 7, 7, 7, 7, 7, 7, 7, 7, 7].map((s, i) => clip(`c${i}`, s));
  const { heard, heldOut } = splitHeard(clips, 100, 60);
  assert.deepEqual(heard.map((c) => c.name), ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
  assert.deepEqual(heldOut.map((c) => c.name), ["c8", "c9"]);
  // A speaker with little audio keeps at least two clips unheard.
  const few = splitHeard(clips.slice(0, 3), 100, 60);
  assert.equal(few.heard.length, 1);
  assert.equal(few.heldOut.length, 2);
  // Never more than the budget.
  const long = splitHeard([clip("a", 50), clip("b", 20), clip("c", 5), clip("d", 5)], 100, 60);
  assert.deepEqual(long.heard.map((c) => c.name), ["a"]);
});

Deno.test("cutIntoClips cuts a recording into consecutive pieces; a short tail joins the last", () => {
  const rec = { name: "r", samples: Float32Array.from({ length: 1270 }, (_, i) => i) };
  const pieces = cutIntoClips(rec, 100, 2);
  assert.deepEqual(pieces.map((p) => p.samples.length), [200, 200, 200, 200, 200, 270]);
  assert.deepEqual(pieces.map((p) => p.name), ["r#0", "r#1", "r#2", "r#3", "r#4", "r#5"]);
  assert.equal(pieces[1].samples[0], 200);
  assert.equal(pieces.reduce((n, p) => n + p.samples.length, 0), 1270);
});
