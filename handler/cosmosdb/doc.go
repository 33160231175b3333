// Package cosmosdb is the Cosmos DB (NoSQL API) adapter: Container
// implements the document port docstore.Docs over azcosmos, and the entity
// stores (handler/stores) are written once over that port. Every container
// is partitioned on /id. SDK types and errors never leave this package:
// every error it returns is a *domain.Error (see translate).
//
// # Accesses
//
// Every access the application makes is a point operation on one document,
// addressed by id and partition key (the same value). The application runs
// no query: Container.Query exists for the port (and tests), renders a
// filter-only cross-partition query that Azure's gateway serves (see
// docstore.Query), and no production path calls it. The sweeper, which
// used to query every partition of the requests container, point-reads
// the attention index instead (stores.Requests.NeedingAttention).
//
// Costs are estimates from Microsoft's request-unit figures ("Request
// Units in Azure Cosmos DB" and "Optimize request cost", Microsoft Learn):
// a point read of a 1 KB item costs 1 RU, a write of a 1 KB item about
// 5–6 RU with default indexing; both grow with item size, and a read of a
// missing item (404) costs about 1 RU. "write" below is create, replace,
// upsert or delete.
//
//	container    document id                      access                           est. RU
//	profiles     {profileId}                      read; create/replace (ETag)      1; 6
//	requests     req-{hex}                        read; create/replace (ETag)      1–3 (records of 1–3 KB); 6–12
//	requests     locks-{profileId}                read; create/replace (ETag)      1; 6
//	requests     attention-{yyyyMMddHHmm}-{nn}    read + create/replace/delete     1 + 6, on a save that sets or
//	                                              (ETag, docstore.Retry)          clears Attention
//	requests     attention-… (sweeper)            (window/1 min + 2) × shards      992 per sweep with the defaults
//	                                              point reads, most of them 404    (60 min, 16 shards); sweeps run
//	                                                                               every 5 min ≈ 3.3 RU/s
//	requests     req-{hex} (sweeper)              one read per listed record,      ≤ 800 per sweep (limit 200);
//	                                              ≤ 4 × limit                      pruning/carrying: 7 per document
//	mfa          chal_{id}, lim_{profileId},      read; create/replace (ETag)      1; 6
//	             tok_{jti}
//	uploads      {uploadId}                       read; create                     1–2; 6–10
//	idempotency  {sha256}                         read; create/replace/delete      1–2 (bodies up to a few KB); 6–12
//
// A create over an expired document (docstore.Expiring) costs the refused
// create, a read and a replace: about 1 + 1 + 6 RU. The attention index
// adds, per request, one bucket write when a save sets Attention (every
// create: a request starts Pending) and one when a later save clears it,
// ≈ 14 RU per episode of work left undone; a Query, if one is ever run,
// costs about 2.5 RU per physical partition visited plus the results' size,
// pages of min(limit, 1000) items (the service's default page when
// unlimited).
//
// Throttling and outages: the client retries a 429 up to 3 times, honouring
// x-ms-retry-after-ms, and then reports KindTransient with that Retry-After;
// azcosmos retries a 503 only by moving to another preferred region, and
// none is configured, so a 503 reaches the caller at once as KindTransient
// (an HTTP caller gets 503 + Retry-After; a trigger is retried by the host).
// The local stand-in (dev/cosmos-emu.js) refuses the cross-partition queries
// Azure's gateway refuses, scopes partition-key queries, expires TTL items
// and can inject 429/503, so these paths are tested against it.
package cosmosdb
