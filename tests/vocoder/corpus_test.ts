import assert from "node:assert/strict";
import * as nodePath from "node:path";
import {
  type CorpusRecipe,
  librispeechSpeaker,
  loadClips,
  peakNormalize,
  planCorpus,
  readRecipe,
} from "../../vocoder/corpus.ts";
import { encodeWav } from "../../audio/wav.ts";

async function touch(root: string, rel: string, bytes: Uint8Array = new Uint8Array(0)) {
  await Deno.mkdir(nodePath.dirname(nodePath.join(root, rel)), { recursive: true });
  await Deno.writeFile(nodePath.join(root, rel), bytes);
}

Deno.test("corpus plan: held-out speakers, rows and dropped folders never reach training", async () => {
  const root = await Deno.makeTempDir();
  const header = "client_id\tpath\tsentence\n";
  await touch(
    root,
    "cv/validated.tsv",
    new TextEncoder().encode(header + "\ta.mp3\tone\n\tb.mp3\ttwo\n\tc.mp3\tthree\n"),
  );
  for (
    const f of [
      "cv/clips/a.mp3",
      "cv/clips/b.mp3",
      "cv/clips/c.mp3",
      "libri/100-1-0000.flac", // speaker 100: held out
      "libri/101-2-0000.flac",
      "rtvc/8230_00000.mp3", // speaker 8230 elsewhere: held out too
      "rtvc/p240_00000.mp3",
      "vctk/p225/p225_003.wav",
      "digits/0_01_0.wav", // a leading 0 outside the LibriSpeech folders is no speaker id
      "ar8k/x.mp3",
      "notes.txt",
    ]
  ) await touch(root, f);
  const recipe: CorpusRecipe = {
    root,
    extensions: [".wav", ".mp3", ".flac"],
    commonVoice: { folder: "cv", tsv: "validated.tsv", trainRows: [1, 2], evalRows: [3, 3] },
    heldOut: { adaptation: ["vctk/"] },
    heldOutLibriSpeech: { folders: ["libri/", "rtvc/"], speakerIdEndsIn: "0" },
    dropped: { "ar8k/": "band-limited" },
    eval: {
      cv: { commonVoiceRows: true },
      libri: { from: "libri/", heldOutSpeakers: true },
      voices: { files: ["vctk/p225/p225_003.wav"] },
    },
  };
  const plan = await planCorpus(recipe);
  assert.deepEqual(plan.train, [
    "cv/clips/a.mp3",
    "cv/clips/b.mp3",
    "digits/0_01_0.wav",
    "libri/101-2-0000.flac",
    "rtvc/p240_00000.mp3",
  ]);
  assert.deepEqual(plan.heldOut.sort(), [
    "cv/clips/c.mp3",
    "libri/100-1-0000.flac",
    "rtvc/8230_00000.mp3",
    "vctk/p225/p225_003.wav",
  ]);
  assert.deepEqual(plan.dropped, [{ path: "ar8k/x.mp3", reason: "band-limited" }]);
  assert.deepEqual(plan.eval, {
    cv: ["cv/clips/c.mp3"],
    libri: ["libri/100-1-0000.flac"],
    voices: ["vctk/p225/p225_003.wav"],
  });
  // An eval set that names a training file is a broken recipe.
  await assert.rejects(
    () => planCorpus({ ...recipe, eval: { bad: { files: ["cv/clips/a.mp3"] } } }),
    /eval set "bad" holds training files: cv\/clips\/a\.mp3/,
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("corpus: speaker ids from LibriSpeech names; the committed recipe reads", async () => {
  assert.equal(librispeechSpeaker("x/103-1240-0000.flac"), "103");
  assert.equal(librispeechSpeaker("1320_00000.mp3"), "1320");
  assert.equal(librispeechSpeaker("libri-1088-134315-0000.wav"), "1088");
  assert.equal(librispeechSpeaker("p240_00000.mp3"), null);
  const recipe = await readRecipe();
  assert.equal(recipe.commonVoice.evalRows.join(), "81,99");
});

Deno.test("loadClips: decodes and peak-normalises; an undecodable file is skipped and named", async () => {
  const root = await Deno.makeTempDir();
  const quiet = Float32Array.from({ length: 8000 }, (_, i) => 0.01 * Math.sin(i / 5));
  await touch(root, "a.wav", encodeWav(quiet, 16000, { format: "float32" }));
  await touch(root, "b.flac", new TextEncoder().encode("not audio at all"));
  const { clips, skipped } = await loadClips(root, ["a.wav", "b.flac"], {
    sampleRate: 16000,
    normalize: true,
  });
  assert.equal(clips.length, 1);
  const peak = Math.max(...clips[0].samples.map(Math.abs));
  assert.ok(Math.abs(peak - 0.95) < 1e-6, `peak ${peak}`);
  assert.equal(skipped[0].name, "b.flac");
  assert.deepEqual(peakNormalize(new Float32Array(3)), new Float32Array(3));
  await Deno.remove(root, { recursive: true });
});
