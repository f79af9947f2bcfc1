/**
 * Worker body for {@link ShardReader} (audio/shard_reader.ts): reads one shard file off the main
 * thread and checks it against what the cache's index says (audio/feature_shard.ts's header
 * checks and the index entry). Messages in: `{ id, path, expect, entry }`; out: `{ id, bytes,
 * dataOffset, frames, offsets }` with the file's buffer transferred (binary16 features from
 * `dataOffset`), `{ id, problem }` for a shard that cannot be used (missing, cut short, another
 * cache's), or `{ id, error }` when reading itself failed.
 * @module
 */
/// <reference lib="deno.worker" />
import {
  checkShardEntry,
  decodeShardHeader,
  ShardError,
  type ShardExpectation,
} from "./feature_shard.ts";
import { readShardFile } from "./shard_file.ts";

interface Request {
  id: number;
  path: string;
  expect: ShardExpectation;
  entry: { clips: number; frames: number };
}

self.onmessage = async (ev: MessageEvent<Request>) => {
  const { id, path, expect, entry } = ev.data;
  try {
    const bytes = await readShardFile(path);
    const { header, dataOffset } = decodeShardHeader(bytes, path, expect);
    checkShardEntry(path, { header }, entry);
    const frames = header.clips.map((c) => c.frames);
    const offsets = header.clips.map((c) => c.offset);
    self.postMessage({ id, bytes, dataOffset, frames, offsets }, [bytes.buffer]);
  } catch (e) {
    if (e instanceof ShardError) self.postMessage({ id, problem: e.message });
    else self.postMessage({ id, error: `reading ${path}: ${(e as Error).message ?? e}` });
  }
};
