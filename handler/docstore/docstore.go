package docstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/profileflow/profileflow/handler/domain"
)

// Docs is one container of JSON documents, each addressed by its "id"
// (the partition key of every container is /id, so each document is its own
// partition). Documents are any JSON-marshalable values whose JSON object
// has an "id" string equal to the id passed alongside; reads decode into any
// JSON-unmarshalable value (a *json.RawMessage gets the raw document).
//
// Every write returns the document's new ETag, an opaque string that
// changes on every write (also when a deleted id is created again). Stored
// documents are copies: changing a value after a write or a read never
// changes what is stored.
//
// Errors: every error is a *domain.Error of one of these kinds.
//
//	KindNotFound   Read, Replace or Delete of a missing document
//	KindConflict   Create of an existing id
//	KindStale      Replace or Delete whose ifMatch is not the stored ETag
//	KindInvalid    an id Cosmos DB cannot store or address (see CheckID), a
//	               document larger than MaxDocBytes, a malformed Query, or
//	               a request the database rejected (HTTP 400)
//	KindTransient  throttling (429, RetryAfter set), unavailability, timeouts
//	KindInternal   a value that does not encode, a document whose "id" is
//	               not id, a stored document that does not decode into the
//	               target, or a misconfigured database
//
// Implementations: the Cosmos DB adapter (handler/cosmosdb.Container) and
// the in-memory fake (handler/memory.Docs); one contract suite
// (docstoretest.Run) holds both to this description.
type Docs interface {
	// Read decodes the document id into v and returns its ETag.
	Read(ctx context.Context, id string, v any) (etag string, err error)
	// Create stores v as a new document (KindConflict if id exists).
	Create(ctx context.Context, id string, v any) (etag string, err error)
	// Replace overwrites the existing document id with v if its ETag still
	// equals ifMatch (KindStale otherwise; "" replaces unconditionally).
	Replace(ctx context.Context, id string, v any, ifMatch string) (etag string, err error)
	// Upsert creates or overwrites the document id unconditionally.
	Upsert(ctx context.Context, id string, v any) (etag string, err error)
	// Delete removes the document id if its ETag still equals ifMatch
	// (KindStale otherwise; "" deletes unconditionally).
	Delete(ctx context.Context, id, ifMatch string) error
	// Query calls each with the raw JSON of every document matching q, in
	// no particular order, stopping after q.Limit results (0 = all). An
	// error from each stops the query and is returned as is.
	Query(ctx context.Context, q Query, each func(raw []byte) error) error
}

// Query selects documents by conditions on their fields. It is deliberately
// small: a conjunction of comparisons, an optional projection and a limit.
//
// The Cosmos DB adapter renders it as one parameterised SQL filter,
// SELECT … FROM c WHERE <cond> AND …, and nothing more: Azure's gateway
// (which the Go SDK uses; it has no client-side query engine) refuses
// cross-partition queries with TOP, ORDER BY, OFFSET/LIMIT, aggregates,
// GROUP BY or DISTINCT, and every container here is partitioned on /id, so
// every query is cross-partition. Limit is therefore enforced by the
// client, which stops paging once Limit results were seen; results come in
// no particular order (callers that need an order sort what they got).
type Query struct {
	// Where holds the conditions, all of which must hold.
	Where []Cond
	// Select, when not empty, projects each result onto these top-level
	// fields (a field the document lacks is left out of the result).
	Select []string
	// Limit stops the query after this many results; 0 means no limit.
	Limit int
}

// Op is a comparison operator.
type Op string

// The comparison operators.
const (
	Eq Op = "="
	Lt Op = "<"
	Le Op = "<="
	Gt Op = ">"
	Ge Op = ">="
	// Contains holds when the field is an array with an element equal to
	// the value (Cosmos DB's ARRAY_CONTAINS(field, value)).
	Contains Op = "contains"
)

// Cond compares a document field with a value. Field is a property path
// of dot-separated names (e.g. "status" or "customStatus.stage"), each
// [A-Za-z_][A-Za-z0-9_]*. Value is a string, number, bool, nil, or any value
// whose JSON is one of these (time.Time compares as its JSON string).
//
// Semantics are Cosmos DB's: a condition on a field the document lacks, or
// whose value has another JSON type than Value, does not hold (it is
// undefined, not false-then-negated); strings compare by code point,
// numbers numerically; bools and nil (matching only null) allow only Eq;
// Contains matches an array field holding an element equal to Value (a
// string, number or bool).
// Note that strings compare as strings: RFC 3339 times compare correctly
// only when written with the same zone and the same number of fraction
// digits.
type Cond struct {
	Field string
	Op    Op
	Value any
}

// Where is a shorthand for a Cond.
func Where(field string, op Op, value any) Cond { return Cond{Field: field, Op: op, Value: value} }

var (
	fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	topName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Check validates q and returns each condition's value normalised to its
// JSON form (string, float64, bool or nil). A malformed query is
// KindInvalid.
func (q Query) Check() ([]any, error) {
	if q.Limit < 0 {
		return nil, domain.E(domain.KindInvalid, "query limit must not be negative")
	}
	for _, f := range q.Select {
		if !topName.MatchString(f) {
			return nil, domain.E(domain.KindInvalid, "query selects a malformed field %q", f)
		}
	}
	vals := make([]any, len(q.Where))
	for i, c := range q.Where {
		if !fieldName.MatchString(c.Field) {
			return nil, domain.E(domain.KindInvalid, "query filters on a malformed field %q", c.Field)
		}
		switch c.Op {
		case Eq, Lt, Le, Gt, Ge, Contains:
		default:
			return nil, domain.E(domain.KindInvalid, "query uses an unknown operator %q", c.Op)
		}
		b, err := json.Marshal(c.Value)
		if err != nil {
			return nil, domain.Wrap(domain.KindInvalid, err, "query value for %q cannot be encoded", c.Field)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, domain.Wrap(domain.KindInvalid, err, "query value for %q cannot be encoded", c.Field)
		}
		switch v.(type) {
		case string, float64:
		case bool:
			if c.Op != Eq && c.Op != Contains {
				return nil, domain.E(domain.KindInvalid, "query compares %q with a bool by %q; only = is allowed", c.Field, c.Op)
			}
		case nil:
			if c.Op == Contains {
				return nil, domain.E(domain.KindInvalid, "query looks for null in the array %q; give a string, number or bool", c.Field)
			}
			if c.Op != Eq {
				return nil, domain.E(domain.KindInvalid, "query compares %q with null by %q; only = is allowed", c.Field, c.Op)
			}
		default:
			return nil, domain.E(domain.KindInvalid, "query value for %q must be a string, number, bool or null", c.Field)
		}
		vals[i] = v
	}
	return vals, nil
}

// MaxIDBytes is the longest id Cosmos DB stores (255 bytes).
const MaxIDBytes = 255

// MaxDocBytes is the largest document Cosmos DB stores (2 MB of JSON).
const MaxDocBytes = 2 << 20

// CheckID rejects ids Cosmos DB cannot store or address: empty, longer than
// MaxIDBytes, holding '/', '\', '?' or '#' (the REST path cannot carry
// them), with leading or trailing spaces, or holding anything but printable
// ASCII: the id is also the partition key, which travels in an HTTP header
// (x-ms-documentdb-partitionkey), and the local stand-in refuses non-ASCII
// there. Such an id is KindInvalid. Values inside documents may hold any
// Unicode text.
func CheckID(id string) error {
	if id == "" || len(id) > MaxIDBytes || strings.ContainsAny(id, "/\\?#") || strings.TrimSpace(id) != id {
		return domain.E(domain.KindInvalid, "invalid id")
	}
	for i := range len(id) {
		if id[i] < 0x20 || id[i] > 0x7e {
			return domain.E(domain.KindInvalid, "invalid id")
		}
	}
	return nil
}

// Encode marshals v for the document id: it checks id (CheckID), that the
// JSON is an object whose "id" equals id (KindInternal otherwise) and that
// it is at most MaxDocBytes (KindInvalid).
func Encode(id string, v any) ([]byte, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, domain.Wrap(domain.KindInternal, err, "document cannot be encoded")
	}
	if !idFirst(b, id) {
		var head struct {
			ID *string `json:"id"`
		}
		if !bytes.HasPrefix(b, []byte("{")) || json.Unmarshal(b, &head) != nil || head.ID == nil || *head.ID != id {
			return nil, domain.E(domain.KindInternal, "document id does not match")
		}
	}
	if len(b) > MaxDocBytes {
		return nil, domain.E(domain.KindInvalid, "document is larger than %d bytes", MaxDocBytes)
	}
	return b, nil
}

// idFirst reports whether the encoded document b starts with the member
// "id" equal to id — the layout of every entity type here, whose first
// field is the id — so Encode checks the id without a second pass over
// the whole document. Any other layout falls back to a full decode.
func idFirst(b []byte, id string) bool {
	const head = `{"id":`
	if !bytes.HasPrefix(b, []byte(head)) {
		return false
	}
	want, err := json.Marshal(id)
	if err != nil {
		return false
	}
	rest := b[len(head):]
	return bytes.HasPrefix(rest, want) && len(rest) > len(want) && (rest[len(want)] == ',' || rest[len(want)] == '}')
}

// Decode unmarshals a stored document into v; a document that does not
// fit v is KindInternal.
func Decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return domain.Wrap(domain.KindInternal, err, "stored document is malformed")
	}
	return nil
}

// Relabel gives a *domain.Error an entity-specific, caller-safe message
// (e.g. "profile not found") chosen by its kind, keeping kind, cause and
// RetryAfter. Kinds missing from msgs, and other errors, pass unchanged.
func Relabel(err error, msgs map[domain.Kind]string) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	msg, ok := msgs[de.Kind]
	if !ok {
		return err
	}
	cp := *de
	cp.Msg = msg
	return &cp
}
