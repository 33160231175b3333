// Package memory holds the in-memory document table (Docs) that stands in
// for a Cosmos DB container in fast unit tests and benchmarks, and one-call
// constructors of the entity stores (handler/stores) over a fresh table.
// The stores are the production code itself, so tests over memory exercise
// the same store logic as Cosmos DB; only the table differs, and the
// contract suites (docstoretest, storestest) hold the two tables to the
// same behaviour.
package memory

import "github.com/profileflow/profileflow/handler/stores"

// The entity stores, under the names tests use.
type (
	Profiles    = stores.Profiles
	Requests    = stores.Requests
	MFAStore    = stores.MFA
	UploadStore = stores.Uploads
	Idempotency = stores.Idempotency
	Notices     = stores.Notices
)

// NewProfiles returns a domain.ProfileStore over an empty table.
func NewProfiles() *Profiles { return stores.NewProfiles(NewDocs()) }

// NewRequests returns a request.Store and request.LockStore over an empty table.
func NewRequests() *Requests { return stores.NewRequests(NewDocs()) }

// NewMFAStore returns an mfa.Store over an empty table.
func NewMFAStore() *MFAStore { return stores.NewMFA(NewDocs()) }

// NewUploadStore returns an upload.SessionStore over an empty table.
func NewUploadStore() *UploadStore { return stores.NewUploads(NewDocs()) }

// NewIdempotency returns an idempotency.Store over an empty table.
func NewIdempotency() *Idempotency { return stores.NewIdempotency(NewDocs()) }

// NewNotices returns a notify.SentLog over an empty table.
func NewNotices() *Notices { return stores.NewNotices(NewDocs()) }
