/**
 * Reads a feature shard's file (audio/feature_shard.ts): a missing one is a {@link ShardError}
 * naming it, like any other unusable shard, so the callers that skip bad shards (training)
 * skip it too. Deno-only; kept apart from audio/feature_cache.ts so the shard Worker loads no
 * GPU code.
 * @module
 */
import { ShardError } from "./feature_shard.ts";

/** The bytes of the shard file at `path`. */
export async function readShardFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ShardError(path, "missing");
    throw e;
  }
}
