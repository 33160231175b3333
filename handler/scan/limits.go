package scan

import "strconv"

// checkLimits refuses an empty document, one larger than maxSize, and one
// larger than its declared size: an upload SAS cannot cap the size of what
// is committed, so the declared size is enforced here. A document without
// a declared size (≤ 0) is refused too (fail closed). name is the quoted
// file name for the reason.
func checkLimits(name string, f File, maxSize int64) *decision {
	size := int64(len(f.Content))
	switch {
	case size == 0:
		return reject("%s is empty", name)
	case size > maxSize:
		return reject("%s is %d bytes; the limit is %d bytes (%s)", name, size, maxSize, mib(maxSize))
	case f.DeclaredSize <= 0:
		return reject("%s has no declared size", name)
	case size > f.DeclaredSize:
		return reject("%s is %d bytes, more than the %d bytes declared for it", name, size, f.DeclaredSize)
	}
	return nil
}

// mib renders n bytes in MiB for messages, e.g. "25 MiB" or "1.5 MiB".
func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}
