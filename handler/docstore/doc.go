// Package docstore is the narrow document port every entity store is
// written against, and the one helper for ETag-checked read-modify-write
// retries (Retry). The Cosmos DB adapter and the in-memory fake implement
// the port; one contract suite runs against both.
package docstore
