/**
 * Corpus sources (audio/corpus.ts), speaker ids (audio/speakers.ts), corpus lists
 * (audio/corpus_list.ts) and list rules (audio/corpus_rules.ts): each naming convention gives its
 * speaker; a plain folder's dev split is speaker-disjoint and its hash split deterministic, near
 * the asked share; a folder is walked recursively for audio only, a symlink out of it skipped
 * and named; sources are told apart and named without collisions; a list resolves paths from its
 * own folder and refuses malformed lines by file and line; rules give each file its split.
 */
import assert from "node:assert/strict";
import * as nodePath from "node:path";
import {
  audioFileOf,
  CorpusSourceError,
  findAudioFiles,
  openSource,
  openSources,
  plainFolderSplit,
  readPlainFolder,
  readSourceSplit,
} from "../../audio/corpus.ts";
import {
  CorpusListError,
  formatCorpusList,
  readCorpusList,
  readCorpusListEntries,
} from "../../audio/corpus_list.ts";
import { globToRegExp, planCorpus } from "../../audio/corpus_rules.ts";
import { SPEAKER_PATTERNS, speakerOf } from "../../audio/speakers.ts";
import { encodeWav } from "../../audio/wav.ts";
import { makeCorpus, makeSymlink, SAMPLE_DIR, tsv } from "./fixtures.ts";

const tempRoots: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const root of tempRoots) Deno.removeSync(root, { recursive: true });
});

/** Writes `files` (path → bytes, or null for an empty folder) under a fresh temp folder. */
async function makeTree(files: Record<string, Uint8Array | string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "corpus_test_" });
  tempRoots.push(root);
  for (const [path, body] of Object.entries(files)) {
    const full = nodePath.join(root, path);
    await Deno.mkdir(nodePath.dirname(full), { recursive: true });
    await Deno.writeFile(full, typeof body === "string" ? new TextEncoder().encode(body) : body);
  }
  return root;
}

const WAV = encodeWav(new Float32Array(1600), 16000);

Deno.test("speakerOf: each naming convention gives its speaker; other names none", () => {
  const cases: [string, string | null][] = [
    ["LibriSpeech/train-clean-100/1088/134315/1088-134315-0000.flac", "librispeech:1088"],
    ["103-1240-0000.flac", "librispeech:103"],
    ["lhotse/libri-1088-134315-0000.wav", "librispeech:1088"],
    ["librosa/198-209-0000.hq.ogg", "librispeech:198"],
    ["vctk/wavs/p225/p225_003.wav", "vctk:p225"],
    ["p226_001_mic2.flac", "vctk:p226"],
    ["wav48/p227/any-name.flac", "vctk:p227"],
    ["speech_commands/backward/0a2b400e_nohash_1.wav", "speechcommands:0a2b400e"],
    ["AudioMNIST/data/56/6_56_49.wav", "audiomnist:56"],
    ["ljspeech/wavs/LJ001-0001.wav", "ljspeech:LJ"],
    ["lhotse/LJ002-0020.wav", "ljspeech:LJ"],
    ["speechocean762/WAVE/SPEAKER0003/000030012.WAV", "speechocean762:0003"],
    ["windows\\p228\\p228_010.wav", "vctk:p228"],
    // No convention: the radio address, FLEURS, Common Voice, AMI, a dated folder.
    ["gwbush-radio-2008-11-01/gb0.wav", null],
    ["fleurs-cuttledoc-fixtures/fleurs-en-000.ogg", null],
    ["clips/common_voice_en_42238716.mp3", null],
    ["ES2011a.Headset-0-40s-46s.wav", null],
    ["2008-11-01/notes.wav", null],
    ["p2255_003.wav", null],
    ["1_2_3_4.wav", null],
  ];
  for (const [path, want] of cases) assert.equal(speakerOf(path), want, path);
  for (const p of SPEAKER_PATTERNS) {
    assert.ok(speakerOf(p.example)?.startsWith(`${p.corpus}:`), `${p.corpus}: ${p.example}`);
  }
});

Deno.test("plain folder split: speaker-disjoint where speakers are known, deterministic, near the share", () => {
  const paths: string[] = [];
  for (let s = 0; s < 200; s++) {
    for (let u = 0; u < 5; u++) {
      paths.push(`libri/${1000 + s}-${s * 7}-${String(u).padStart(4, "0")}.flac`);
    }
    for (let u = 0; u < 3; u++) paths.push(`vctk/p${100 + s}/p${100 + s}_00${u}.wav`);
  }
  for (let f = 0; f < 1000; f++) paths.push(`radio/part-${f}.wav`);
  const splits = paths.map((p) => plainFolderSplit(p, { devFraction: 0.1 }));
  // No speaker in both splits.
  const bySpeaker = new Map<string, Set<string>>();
  paths.forEach((p, i) => {
    const s = speakerOf(p);
    if (s) bySpeaker.set(s, (bySpeaker.get(s) ?? new Set()).add(splits[i]));
  });
  assert.equal(bySpeaker.size, 400);
  for (const [speaker, set] of bySpeaker) assert.equal(set.size, 1, `${speaker} in ${[...set]}`);
  // Stable across runs and machines (a cache's clip list depends on it): these names have
  // always split so (the FNV-1a + murmur finaliser of commonvoice.ts's speakerSplit).
  const first40 = Array.from({ length: 40 }, (_, i) => `radio/part-${i}.wav`);
  assert.deepEqual(
    first40.filter((p) => plainFolderSplit(p, { devFraction: 0.1 }) === "dev"),
    ["radio/part-9.wav", "radio/part-14.wav", "radio/part-22.wav", "radio/part-35.wav"],
  );
  // Deterministic: the same split again; another salt draws another one.
  assert.deepEqual(paths.map((p) => plainFolderSplit(p, { devFraction: 0.1 })), splits);
  const salted = paths.map((p) => plainFolderSplit(p, { devFraction: 0.1, splitSalt: "x" }));
  assert.notDeepEqual(salted, splits);
  // Shares near 10 %: speakers (400) and unknown-speaker files (1000) each.
  const devSpeakers = [...bySpeaker.values()].filter((s) => s.has("dev")).length;
  assert.ok(devSpeakers >= 20 && devSpeakers <= 60, `${devSpeakers} of 400 speakers in dev`);
  const devFiles = paths.filter((p, i) => p.startsWith("radio/") && splits[i] === "dev").length;
  assert.ok(devFiles >= 70 && devFiles <= 130, `${devFiles} of 1000 files in dev`);
  // Share 0 puts everything in train, share 1 everything in dev.
  assert.ok(paths.every((p) => plainFolderSplit(p, { devFraction: 0 }) === "train"));
  assert.ok(paths.every((p) => plainFolderSplit(p, { devFraction: 1 }) === "dev"));
});

Deno.test("a plain folder: recursive, audio files only, both splits cover it, a symlink outside is named", async () => {
  const outside = await makeTree({ "elsewhere.wav": WAV });
  const root = await makeTree({
    "a.wav": WAV,
    "sub/deeper/B.FLAC": WAV,
    "sub/c.opus": WAV,
    "sub/d.ogg": WAV,
    "e.mp3": WAV,
    "notes.txt": "not audio",
    "metadata.tsv": "path\n",
    "sub/README.md": "# hi",
  });
  const linked = await makeSymlink(
    nodePath.join(outside, "elsewhere.wav"),
    nodePath.join(root, "sub/link.wav"),
  );
  const { files, skipped } = await findAudioFiles(root);
  assert.deepEqual(files.map((f) => f.path), [
    "a.wav",
    "e.mp3",
    "sub/c.opus",
    "sub/d.ogg",
    "sub/deeper/B.FLAC",
  ]);
  assert.equal(files[4].audioPath, nodePath.join(root, "sub/deeper/B.FLAC"));
  if (linked) {
    assert.deepEqual(skipped.map((s) => [s.name, s.reason]), [
      ["sub/link.wav", "symlink to outside the folder"],
    ]);
  } else console.warn("skip: symlinks cannot be made here");
  const train = await readPlainFolder(root, "train", { devFraction: 0.5 });
  const dev = await readPlainFolder(root, "dev", { devFraction: 0.5 });
  assert.deepEqual(
    [...train.clips, ...dev.clips].map((c) => c.path).sort(),
    files.map((f) => f.path).sort(),
  );
  for (const c of train.clips) {
    assert.equal(plainFolderSplit(c.path, { devFraction: 0.5 }), "train");
  }
  for (const c of dev.clips) assert.equal(plainFolderSplit(c.path, { devFraction: 0.5 }), "dev");
  // The symlink is named once, in its own split.
  if (linked) assert.equal(train.skipped.length + dev.skipped.length, 1);
});

Deno.test("openSource: tells the four kinds apart; names are stable and distinct for equal base names", async () => {
  const a = await makeTree({ "en/x.wav": WAV, "list.corpus.tsv": "path\tspeaker\tsplit\n" });
  const b = await makeTree({ "en/index.json": "{}" });
  const kinds = await Promise.all(
    [
      SAMPLE_DIR,
      nodePath.join(a, "en"),
      nodePath.join(b, "en"),
      nodePath.join(a, "list.corpus.tsv"),
    ]
      .map(openSource),
  );
  assert.deepEqual(kinds.map((k) => k.kind), ["commonvoice", "folder", "cache", "list"]);
  assert.match(kinds[1].name, /^en-[0-9a-f]{8}$/);
  assert.match(kinds[3].name, /^list\.corpus-[0-9a-f]{8}$/);
  assert.notEqual(kinds[1].name, kinds[2].name, "two folders named en share a cache name");
  assert.equal((await openSource(nodePath.join(a, "en"))).name, kinds[1].name, "not stable");
  // The same folder spelt two ways is one source, refused when given twice.
  await assert.rejects(
    openSources([nodePath.join(a, "en"), nodePath.join(a, "en/../en/")]),
    (e: unknown) => e instanceof CorpusSourceError && /given twice/.test(e.message),
  );
  await assert.rejects(openSource(nodePath.join(a, "nope")), /nope: no such file or folder/);
  // A plain folder has train and dev only.
  await assert.rejects(readSourceSplit(kinds[1], "test"), /splits train and dev, not 'test'/);
});

Deno.test("a corpus list: paths from its own folder (../ too), splits as written, a missing file named", async () => {
  const data = await makeTree({ "speech/p225/p225_001.wav": WAV, "speech/gb0.wav": WAV });
  const listDir = nodePath.join(data, "models", "recipes");
  await Deno.mkdir(listDir, { recursive: true });
  const list = nodePath.join(listDir, "base.corpus.tsv");
  await Deno.writeTextFile(
    list,
    "# made by hand\n# second comment\n" +
      "path\tspeaker\tsplit\tseconds\n" +
      "../../speech/p225/p225_001.wav\tvctk:p225\tdev\t0.100\n" +
      "../../speech/gb0.wav\t\ttrain\t\n" +
      "../../speech/gone.wav\t\ttrain\t1\n" +
      `${nodePath.join(data, "speech/gb0.wav")}\t\texclude\t\n`,
  );
  const entries = await Array.fromAsync(readCorpusListEntries(list));
  assert.deepEqual(entries.map((e) => [e.split, e.line, e.seconds]), [
    ["dev", 4, 0.1],
    ["train", 5, null],
    ["train", 6, 1],
    ["exclude", 7, null],
  ]);
  const train = await readCorpusList(list, "train");
  assert.deepEqual(train.clips.map((c) => c.audioPath), [nodePath.join(data, "speech/gb0.wav")]);
  assert.deepEqual(train.skipped.map((s) => [s.name, s.reason]), [
    ["../../speech/gone.wav", "missing file"],
  ]);
  const dev = await readCorpusList(list, "dev");
  assert.deepEqual(dev.clips.map((c) => [c.path, c.clientId]), [
    ["../../speech/p225/p225_001.wav", "vctk:p225"],
  ]);
  const source = await openSource(list);
  assert.equal(
    audioFileOf(source, { path: "../../speech/gb0.wav#3", startSeconds: 45, durationSeconds: 14 })
      .file,
    nodePath.join(data, "speech/gb0.wav"),
  );
  // formatCorpusList writes what readCorpusListEntries reads back.
  const again = nodePath.join(listDir, "again.corpus.tsv");
  await Deno.writeTextFile(again, formatCorpusList(entries, ["a comment"]));
  assert.deepEqual(
    (await Array.fromAsync(readCorpusListEntries(again))).map(({ line: _, ...e }) => e),
    entries.map(({ line: _, ...e }) => e),
  );
});

Deno.test("a corpus list with a malformed line is refused, naming the file and line", async () => {
  const dir = await makeTree({});
  const cases: [string, RegExp][] = [
    ["path\tsplit\n", /x\.tsv:1: missing column speaker/],
    [
      "path\tspeaker\tsplit\na.wav\t\tholdout\n",
      /x\.tsv:2: split 'holdout' is none of train, dev, exclude/,
    ],
    [
      "path\tspeaker\tsplit\na.wav\t\ttrain\nb.wav\ttrain\n",
      /x\.tsv:3: ragged row: 2 fields, expected 3/,
    ],
    [
      "path\tspeaker\tsplit\na.wav\t\ttrain\n./a.wav\t\tdev\na.wav\t\tdev\n",
      /x\.tsv:3: \.\/a\.wav is listed again \(first on line 2\)/,
    ],
    ["path\tspeaker\tsplit\n\t\ttrain\n", /x\.tsv:2: empty path/],
    ["# only a comment\n", /x\.tsv: empty corpus list/],
  ];
  const list = nodePath.join(dir, "x.tsv");
  for (const [text, want] of cases) {
    await Deno.writeTextFile(list, text);
    await assert.rejects(readCorpusList(list, "train"), (e: unknown) => {
      assert.ok(e instanceof CorpusListError, String(e));
      assert.match(e.message, want);
      return true;
    });
  }
  // Bad UTF-8 on a data line.
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("path\tspeaker\tsplit\na"),
    0xff,
    0x0a,
  ]);
  await Deno.writeFile(list, bytes);
  await assert.rejects(readCorpusList(list, "train"), /x\.tsv:2: not valid UTF-8/);
});

Deno.test("globToRegExp: * within a part, ** across parts, ? one character", () => {
  const yes: [string, string][] = [
    ["ljspeech/**", "ljspeech/wavs/LJ001-0001.wav"],
    ["lhotse/LJ002-*", "lhotse/LJ002-0020.wav"],
    ["**/p225_*.wav", "vctk/wavs/p225/p225_003.wav"],
    ["**/p225_*.wav", "p225_003.wav"],
    ["a?c.wav", "abc.wav"],
    ["x.wav", "x.wav"],
  ];
  const no: [string, string][] = [
    ["lhotse/LJ002-*", "lhotse/LJ002-0020/x.wav"],
    ["ljspeech/**", "ljspeech-coqui/a.wav"],
    ["a?c.wav", "a/c.wav"],
    ["x.wav", "xxwav"],
    ["*.wav", "sub/a.wav"],
  ];
  for (const [g, p] of yes) assert.ok(globToRegExp(g).test(p), `${g} should match ${p}`);
  for (const [g, p] of no) assert.ok(!globToRegExp(g).test(p), `${g} should not match ${p}`);
});

Deno.test("planCorpus: exclude, then dev globs, TSV rows and speakers, then the hash share", async () => {
  const cvRows = ["c1", "c2", "c3", "c4"].map((id) => ({ path: `${id}.mp3`, sentence: id }));
  const root = await makeTree({
    "cv/validated.tsv": tsv(["client_id", "path", "sentence"], cvRows),
    "cv/clips/c1.mp3": WAV,
    "cv/clips/c2.mp3": WAV,
    "cv/clips/c3.mp3": WAV,
    "cv/clips/c4.mp3": WAV,
    "libri/1230-1-0000.flac": WAV,
    "libri/1231-1-0000.flac": WAV,
    "other/1230-2-0001.flac": WAV,
    "lj/wavs/LJ001-0001.wav": WAV,
    "radio/gb0.wav": WAV,
    "broken/x.wav": "not a wav",
  });
  const list = nodePath.join(root, "models", "r.corpus.tsv");
  const plan = await planCorpus({
    roots: [root],
    exclude: ["lj/**", "nothing/**"],
    dev: ["radio/*.wav"],
    devRows: ["cv/validated.tsv:2-3"],
    holdOutSpeakers: ["librispeech:*0"],
    devFraction: 0,
  }, list);
  const got = Object.fromEntries(plan.entries.map((e) => [e.path, [e.split, e.speaker]]));
  assert.deepEqual(got, {
    "../broken/x.wav": ["train", ""],
    "../cv/clips/c1.mp3": ["train", ""],
    "../cv/clips/c2.mp3": ["dev", ""],
    "../cv/clips/c3.mp3": ["dev", ""],
    "../cv/clips/c4.mp3": ["train", ""],
    "../libri/1230-1-0000.flac": ["dev", "librispeech:1230"],
    "../libri/1231-1-0000.flac": ["train", "librispeech:1231"],
    "../lj/wavs/LJ001-0001.wav": ["exclude", "ljspeech:LJ"],
    "../other/1230-2-0001.flac": ["dev", "librispeech:1230"],
    "../radio/gb0.wav": ["dev", ""],
  });
  assert.equal(plan.entries.find((e) => e.path === "../radio/gb0.wav")!.seconds, 0.1);
  assert.equal(plan.folders[plan.entries.findIndex((e) => e.path === "../radio/gb0.wav")], "radio");
  assert.ok(plan.warnings.some((w) => /--exclude 'nothing\/\*\*' matched no file/.test(w)));
  assert.ok(plan.warnings.some((w) => /broken\/x\.wav: .*listed; prepare will skip it/.test(w)));
  // A speaker held out by a dev glob but trained on elsewhere is reported.
  const mixed = await planCorpus({
    roots: [root],
    exclude: [],
    dev: ["other/**"],
    devRows: [],
    holdOutSpeakers: [],
    devFraction: 0,
  }, list);
  assert.ok(mixed.warnings.includes("speaker librispeech:1230 is both trained on and held out"));
  // Rows past the TSV's end are an error naming it.
  await assert.rejects(
    planCorpus({
      roots: [root],
      exclude: [],
      dev: [],
      devRows: ["cv/validated.tsv:3-9"],
      holdOutSpeakers: [],
      devFraction: 0,
    }, list),
    /validated\.tsv has only 4 rows/,
  );
});

Deno.test("a Common Voice source reads as before through readSourceSplit", async () => {
  const dir = await makeCorpus({
    tsvs: {
      "train.tsv": tsv(["client_id", "path", "sentence"], [{
        client_id: "s1",
        path: "a.mp3",
        sentence: "A",
      }]),
      "dev.tsv": tsv(["client_id", "path", "sentence"], []),
      "test.tsv": tsv(["client_id", "path", "sentence"], []),
    },
    clips: { "a.mp3": WAV },
  });
  const source = await openSource(dir);
  assert.equal(source.kind, "commonvoice");
  const { clips, from } = await readSourceSplit(source, "train");
  assert.deepEqual(clips, [{
    path: "a.mp3",
    audioPath: await Deno.realPath(nodePath.join(dir, "clips/a.mp3")),
    clientId: "s1",
    sentence: "A",
  }]);
  assert.equal(from, "train.tsv");
  assert.equal(
    audioFileOf(source, { path: "a.mp3", durationSeconds: 1 }).file,
    nodePath.join(dir, "clips/a.mp3"),
  );
});
