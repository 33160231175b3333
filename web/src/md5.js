// MD5 as storage's Content-MD5 header wants it (base64 of the 16 bytes).
// Browsers' Web Crypto has no MD5, so spark-md5 computes it.
import SparkMD5 from "spark-md5";

/** Base64 of the MD5 of an ArrayBuffer. */
export function md5Base64(buf) {
  return btoa(SparkMD5.ArrayBuffer.hash(buf, true));
}

/** Hashes a Blob on the calling thread. */
export async function md5Inline(blob) {
  return md5Base64(await blob.arrayBuffer());
}

/**
 * A pool of n workers (script url) hashing Blobs in parallel; returns a
 * function Blob → Promise<base64 MD5>. Where workers cannot start, it
 * hashes on the calling thread.
 */
export function md5Pool(url, n) {
  let workers;
  try {
    workers = Array.from({ length: n }, () => new Worker(url, { type: "module" }));
  } catch {
    return md5Inline;
  }
  const pending = new Map();
  let seq = 0;
  for (const w of workers) {
    w.onmessage = (e) => {
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      if (e.data.error) p.reject(new Error(`MD5: ${e.data.error}`));
      else p.resolve(e.data.md5);
    };
  }
  return (blob) => new Promise((resolve, reject) => {
    seq += 1;
    pending.set(seq, { resolve, reject });
    workers[seq % workers.length].postMessage({ id: seq, blob });
  });
}
