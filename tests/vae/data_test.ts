/** Tests for vae/data.ts's replay selection (the crop sampler is tested in trainer_test.ts). */
import assert from "node:assert/strict";
import { type MelClip, selectReplay } from "../../vae/data.ts";

const clip = (name: string, frames: number, nMels = 2): MelClip => ({
  name,
  frames,
  mel: Float32Array.from({ length: frames * nMels }, (_, i) => i),
});

Deno.test("selectReplay spreads its picks over the list and takes each clip's middle", () => {
  const clips = Array.from({ length: 10 }, (_, i) => clip(`c${i}`, 20 + i));
  // 5 picks of 10 frames (2 s at 5 frames/s) from 10 clips: every other clip, from c0.
  const picks = selectReplay(clips, 2, 5, 10, 2);
  assert.deepEqual(picks.map((c) => c.name), ["c0", "c2", "c4", "c6", "c8"]);
  assert.ok(picks.every((c) => c.frames === 10 && c.mel.length === 20));
  // c2 has 22 frames: its middle 10 start at frame 6 (values 12, 13, …).
  assert.deepEqual([...picks[1].mel.subarray(0, 4)], [12, 13, 14, 15]);
  // Fewer clips than picks: each clip once; a clip shorter than a crop is taken whole.
  const few = selectReplay([clip("a", 3), clip("b", 40)], 2, 5, 60, 2);
  assert.deepEqual(few.map((c) => [c.name, c.frames]), [["a", 3], ["b", 10]]);
  // The copies are independent of the clips.
  few[1].mel[0] = -1;
  assert.notEqual(clips[0].mel[0], -1);
});
