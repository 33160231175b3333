// A worker that computes Content-MD5 values off the page's main thread:
// message {id, blob} in, {id, md5} (base64) or {id, error} out. The Blob is
// a File.slice(), passed without copying; the worker reads it itself.
import { md5Base64 } from "./md5.js";

self.onmessage = async (e) => {
  const { id, blob } = e.data;
  try {
    self.postMessage({ id, md5: md5Base64(await blob.arrayBuffer()) });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
