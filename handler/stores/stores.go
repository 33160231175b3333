// Package stores holds every entity store, each written once over the
// document port docstore.Docs: profiles (domain.ProfileStore), request
// records and field locks (request.Store, request.LockStore), MFA
// challenges, counters and token uses (mfa.Store), upload sessions
// (upload.SessionStore) and idempotency records (idempotency.Store).
//
// In production each store gets a Cosmos DB container
// (cosmosdb.Client.Container); in tests an in-memory table (memory.NewDocs).
// Stores keep the kinds of the port's errors and give them caller-safe,
// entity-specific messages (e.g. "profile not found").
//
// Documents that expire (MFA records, upload sessions, idempotency records)
// carry their end of life, and every store reads them through
// docstore.Expiring: past it they are absent even before Cosmos DB's TTL
// deletes them. Request records needing attention are listed in an index
// of minute buckets the sweeper point-reads (Requests.NeedingAttention).
// Options (WithClock, WithAttentionIndex) are optional.
package stores

// QueriedPaths are the Cosmos DB index paths of the fields the stores'
// queries filter on, by container setting (COSMOS_CONTAINER_*): the
// deployment indexes exactly these (every other path is excluded, so
// writes cost the fewest RU). A query on a path not listed would scan.
var QueriedPaths = map[string][]string{
	// Requests.OpenTasks (the approvals inbox) and the sweep's waits.
	"COSMOS_CONTAINER_REQUESTS": {
		"/type/?",
		"/taskIndex/groups/[]/?",
		"/taskIndex/actors/[]/?",
		"/taskIndex/latest/?",
		"/" + fieldAttentionSince + "/?",
		"/" + fieldScanSince + "/?",
		"/" + fieldTimerDue + "/?",
	},
	// Uploads.Unclaimed (expired upload sessions).
	"COSMOS_CONTAINER_UPLOADS": {"/sweepUnclaimedUntil/?"},
}
