package cosmosdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Client is a Cosmos DB account client. It is safe for concurrent use; make
// one per process.
type Client struct {
	az *azcosmos.Client
}

// clientOptions: a few quick retries (the SDK honours x-ms-retry-after-ms on
// 429) so a throttled call still fits in an HTTP request's budget; callers
// bound each call further with their context.
func clientOptions() *azcosmos.ClientOptions {
	return &azcosmos.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Retry: policy.RetryOptions{
				MaxRetries:    3,
				TryTimeout:    10 * time.Second,
				RetryDelay:    200 * time.Millisecond,
				MaxRetryDelay: 2 * time.Second,
			},
			Telemetry: policy.TelemetryOptions{ApplicationID: "profileflow"},
		},
	}
}

// New returns a client for the account at endpoint. With a key it signs
// requests with the key (local stand-in, http endpoints allowed); with an
// empty key it uses DefaultAzureCredential (the managed identity in Azure).
func New(endpoint, key string) (*Client, error) {
	if strings.TrimSpace(endpoint) == "" {
		return nil, errors.New("cosmosdb: empty endpoint")
	}
	opts := clientOptions()
	var (
		az  *azcosmos.Client
		err error
	)
	if key != "" {
		cred, kerr := azcosmos.NewKeyCredential(key)
		if kerr != nil {
			return nil, fmt.Errorf("cosmosdb: key: %w", kerr)
		}
		az, err = azcosmos.NewClientWithKey(endpoint, cred, opts)
	} else {
		cred, cerr := azidentity.NewDefaultAzureCredential(nil)
		if cerr != nil {
			return nil, fmt.Errorf("cosmosdb: credential: %w", cerr)
		}
		az, err = azcosmos.NewClient(endpoint, cred, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("cosmosdb: client for %s: %w", endpoint, err)
	}
	return &Client{az: az}, nil
}

// PartitionKeyPath is the partition key of every container: the handler
// addresses each document by id and partition key, the same value.
const PartitionKeyPath = "/id"

// ContainerSpec describes a container for EnsureSchema. Every container is
// partitioned on PartitionKeyPath.
type ContainerSpec struct {
	Name       string
	DefaultTTL *int32 // seconds; nil = no TTL, -1 = TTL on with no default
}

// EnsureSchema creates the database and containers when missing (existing
// ones are left as they are). For local runs and tests only: in Azure, Bicep
// creates them and the app's identity may not create resources.
func (c *Client) EnsureSchema(ctx context.Context, database string, containers []ContainerSpec) error {
	if _, err := c.az.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: database}, nil); err != nil && !isStatus(err, 409) {
		return translate(err)
	}
	db, err := c.az.NewDatabase(database)
	if err != nil {
		return domain.Wrap(domain.KindInternal, err, "database is not configured correctly")
	}
	for _, s := range containers {
		props := azcosmos.ContainerProperties{
			ID:                     s.Name,
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{PartitionKeyPath}},
			DefaultTimeToLive:      s.DefaultTTL,
		}
		if _, err := db.CreateContainer(ctx, props, nil); err != nil && !isStatus(err, 409) {
			return translate(err)
		}
	}
	return nil
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// Container is one container (pk /id) as a docstore.Docs: the port's
// semantics and error kinds are documented there. Documents read back carry
// Cosmos DB's system properties (_rid, _self, _etag, _attachments, _ts) in
// their raw JSON; the "ttl" field of a document takes effect when the
// container has a default TTL (e.g. -1).
type Container struct {
	name string
	cc   *azcosmos.ContainerClient
	err  error // set when the names were invalid
}

var _ docstore.Docs = (*Container)(nil)

// Container returns the container name in database.
func (c *Client) Container(database, name string) *Container {
	cc, err := c.az.NewContainer(database, name)
	if err != nil {
		return &Container{name: name, err: domain.Wrap(domain.KindInternal, err, "database is not configured correctly")}
	}
	return &Container{name: name, cc: cc}
}

// Name returns the container's name.
func (c *Container) Name() string { return c.name }

func (c *Container) ready(id string) error {
	if c.err != nil {
		return c.err
	}
	return docstore.CheckID(id)
}

func ifMatch(etag string) *azcosmos.ItemOptions {
	if etag == "" {
		return nil
	}
	e := azcore.ETag(etag)
	return &azcosmos.ItemOptions{IfMatchEtag: &e}
}

// Read decodes the document id into v and returns its ETag.
// A missing document is KindNotFound.
func (c *Container) Read(ctx context.Context, id string, v any) (etag string, err error) {
	if err := c.ready(id); err != nil {
		return "", err
	}
	resp, err := c.cc.ReadItem(ctx, azcosmos.NewPartitionKeyString(id), id, nil)
	if err != nil {
		return "", translate(err)
	}
	if err := docstore.Decode(resp.Value, v); err != nil {
		return "", err
	}
	return string(resp.ETag), nil
}

// Create stores v as a new document and returns its ETag. An existing id is
// KindConflict.
func (c *Container) Create(ctx context.Context, id string, v any) (etag string, err error) {
	if c.err != nil {
		return "", c.err
	}
	b, err := docstore.Encode(id, v)
	if err != nil {
		return "", err
	}
	resp, err := c.cc.CreateItem(ctx, azcosmos.NewPartitionKeyString(id), b, nil)
	if err != nil {
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// Replace overwrites the document id with v if its ETag still equals ifMatch
// (KindStale otherwise; an empty ifMatch replaces unconditionally) and
// returns the new ETag. A missing document is KindNotFound.
func (c *Container) Replace(ctx context.Context, id string, v any, ifMatchETag string) (etag string, err error) {
	if c.err != nil {
		return "", c.err
	}
	b, err := docstore.Encode(id, v)
	if err != nil {
		return "", err
	}
	resp, err := c.cc.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(id), id, b, ifMatch(ifMatchETag))
	if err != nil {
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// Upsert creates or overwrites the document id unconditionally and returns
// its ETag.
func (c *Container) Upsert(ctx context.Context, id string, v any) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	b, err := docstore.Encode(id, v)
	if err != nil {
		return "", err
	}
	resp, err := c.cc.UpsertItem(ctx, azcosmos.NewPartitionKeyString(id), b, nil)
	if err != nil {
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// Delete removes the document id if its ETag still equals ifMatch (KindStale
// otherwise; empty = unconditionally). A missing document is KindNotFound.
func (c *Container) Delete(ctx context.Context, id, ifMatchETag string) error {
	if err := c.ready(id); err != nil {
		return err
	}
	if _, err := c.cc.DeleteItem(ctx, azcosmos.NewPartitionKeyString(id), id, ifMatch(ifMatchETag)); err != nil {
		return translate(err)
	}
	return nil
}

// Query runs q across all partitions (see docstore.Query for why it is
// only a filter) and calls each with every result's raw JSON, page by page,
// stopping once q.Limit results were seen.
func (c *Container) Query(ctx context.Context, q docstore.Query, each func(raw []byte) error) error {
	if c.err != nil {
		return c.err
	}
	sql, params, err := renderQuery(q)
	if err != nil {
		return err
	}
	opts := &azcosmos.QueryOptions{QueryParameters: params}
	if q.Limit > 0 {
		opts.PageSizeHint = int32(min(q.Limit, maxPageSize))
	}
	pager := c.cc.NewQueryItemsPager(sql, azcosmos.NewPartitionKey(), opts)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return translate(err)
		}
		for _, raw := range page.Items {
			if q.Limit > 0 && n >= q.Limit {
				return nil
			}
			n++
			if err := each(raw); err != nil {
				return err
			}
		}
		if q.Limit > 0 && n >= q.Limit {
			return nil
		}
	}
	return nil
}

// maxPageSize caps the page size asked of the gateway for a limited query.
const maxPageSize = 1000

// renderQuery turns q into parameterised Cosmos SQL: a projection and a
// WHERE filter only, never TOP, ORDER BY or OFFSET, which the gateway cannot
// serve across partitions. Property names are bracket-quoted so that names
// that are SQL keywords (value, select, …) still work.
func renderQuery(q docstore.Query) (string, []azcosmos.QueryParameter, error) {
	vals, err := q.Check()
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	if len(q.Select) == 0 {
		b.WriteString("*")
	} else {
		b.WriteString("VALUE {")
		for i, f := range q.Select {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: c[%q]", f, f)
		}
		b.WriteString("}")
	}
	b.WriteString(" FROM c")
	params := make([]azcosmos.QueryParameter, len(q.Where))
	for i, cond := range q.Where {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		var field strings.Builder
		field.WriteString("c")
		for name := range strings.SplitSeq(cond.Field, ".") {
			fmt.Fprintf(&field, "[%q]", name)
		}
		name := "@p" + strconv.Itoa(i)
		if cond.Op == docstore.Contains {
			fmt.Fprintf(&b, "ARRAY_CONTAINS(%s, %s)", field.String(), name)
		} else {
			fmt.Fprintf(&b, "%s %s %s", field.String(), cond.Op, name)
		}
		params[i] = azcosmos.QueryParameter{Name: name, Value: vals[i]}
	}
	return b.String(), params, nil
}
